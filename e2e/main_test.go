package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/e2e/internal/clientbuilder"
	"github.com/ccserver/ccserver/e2e/internal/network"
)

// The shared world of one test binary: one Fabric network, the programs
// built from this repository, and why tests skip when there is no Fabric.
var (
	fabric   network.Fabric
	fabnet   *network.Network
	binDir   string
	skipWhy  string
	workDir  string
	builders string // our client-mode external builder
)

// builderConfig is the peers' CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG: the
// values the ccaas builder fills a package's templates with at install.
const builderConfig = `CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG={"ccserver_host":"127.0.0.1"}`

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	var err error
	fabric, err = network.FromEnv()
	if errors.Is(err, network.ErrNoFabric) {
		skipWhy = err.Error() + "\n(make e2e unpacks ../shared/fabric; elsewhere set FABRIC_BIN to a Fabric release's bin/ and FABRIC_VERSION to its version)"
		return m.Run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	workDir, err = os.MkdirTemp("", "ccserver-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	if err := buildPrograms(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: programs built in %s\n", time.Since(t0).Round(time.Millisecond))
	var extra []network.Builder
	if builders != "" {
		extra = append(extra, network.Builder{Name: "ccserver-client", Path: builders})
	}
	fabnet, err = network.Start(ctx, network.Options{
		Fabric: fabric, Dir: filepath.Join(workDir, "fabric"), Builders: extra,
		PeerEnv: []string{"CORE_CHAINCODE_STARTUPTIMEOUT=45s", builderConfig},
		Logf:    func(f string, a ...any) { fmt.Fprintf(os.Stderr, "e2e: "+f+"\n", a...) },
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: network: %v\n(kept %s)\n", err, workDir)
		return 1
	}
	code := m.Run()
	stopErr := fabnet.Stop()
	if code != 0 || stopErr != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAILED (stop: %v); everything kept under %s; last lines of the network's logs:\n%s\n", stopErr, workDir, fabnet.Tails(15))
		if code == 0 {
			code = 1
		}
		return code
	}
	os.RemoveAll(workDir)
	return code
}

// needFabric skips the test when no Fabric binaries were found.
func needFabric(t *testing.T) {
	t.Helper()
	if skipWhy != "" {
		t.Skip("no Fabric network: " + skipWhy)
	}
}

// buildPrograms builds ccserver, ccpki and ccpeer from the core module,
// the e2e programs (test chaincodes, our client-mode builder) and programs
// of other modules (the contract-api example) into binDir.
func buildPrograms(ctx context.Context) error {
	binDir = filepath.Join(workDir, "bin")
	core := exec.CommandContext(ctx, "go", "build", "-o", binDir+"/", "./cmd/ccserver", "./cmd/ccpki", "./cmd/ccpeer")
	core.Dir = ".."
	if out, err := core.CombinedOutput(); err != nil {
		return fmt.Errorf("go build (core): %w\n%s", err, out)
	}
	cmds, err := filepath.Glob("cmd/*")
	if err != nil {
		return err
	}
	if len(cmds) > 0 {
		args := []string{"build", "-o", binDir + "/"}
		for _, c := range cmds {
			args = append(args, "./"+c)
		}
		own := exec.CommandContext(ctx, "go", args...)
		if out, err := own.CombinedOutput(); err != nil {
			return fmt.Errorf("go build (e2e): %w\n%s", err, out)
		}
	}
	// Programs of this repository's other modules: directory, package.
	for _, p := range [][2]string{{"../examples/contractapi", "./cmd/rentalcc"}} {
		b := exec.CommandContext(ctx, "go", "build", "-o", binDir+"/", p[1])
		b.Dir = p[0]
		if out, err := b.CombinedOutput(); err != nil {
			return fmt.Errorf("go build (%s): %w\n%s", p[0], err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(binDir, "clientbuilder")); err == nil {
		builders = filepath.Join(workDir, "clientbuilder")
		if err := clientbuilder.Install(builders, filepath.Join(binDir, "clientbuilder")); err != nil {
			return err
		}
	}
	return nil
}

func bin(name string) string { return filepath.Join(binDir, name) }

// run runs a program of ours and returns its stdout, failing the test
// with its output when it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin(name), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}
