// Package deploy_test checks that the deployment files parse and name
// only flags and environment variables the ccserver binary really has.
package deploy_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ccserver/ccserver/examples/assettransfer"
	"github.com/ccserver/ccserver/serve"
	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ccserverHelp is what `ccserver --help` prints.
func ccserverHelp(t *testing.T) string {
	var out bytes.Buffer
	if code := serve.Run(context.Background(), assettransfer.New(), serve.Env{Args: []string{"--help"}, Stdout: &out}); code != serve.ExitOK {
		t.Fatalf("--help exit %d", code)
	}
	return out.String()
}

type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec yaml.Node `yaml:"spec"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name string `yaml:"name"`
	} `yaml:"env"`
	Ports []struct {
		Name string `yaml:"name"`
		Port int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	VolumeMounts   []struct {
		Name string `yaml:"name"`
		Path string `yaml:"mountPath"`
		Sub  string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
	GRPC *struct {
		Port int `yaml:"port"`
	} `yaml:"grpc"`
}

type deploymentSpec struct {
	Template struct {
		Spec struct {
			Containers []container `yaml:"containers"`
			Volumes    []struct {
				Name   string `yaml:"name"`
				Secret *struct {
					SecretName string `yaml:"secretName"`
				} `yaml:"secret"`
			} `yaml:"volumes"`
			SecurityContext struct {
				RunAsNonRoot bool `yaml:"runAsNonRoot"`
			} `yaml:"securityContext"`
		} `yaml:"spec"`
	} `yaml:"template"`
}

func readManifests(t *testing.T) map[string]manifest {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	out := map[string]manifest{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m manifest
		if err := yaml.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if m.Kind == "" || m.Metadata.Name == "" {
			t.Fatalf("%s: no kind or name", f)
		}
		out[m.Kind] = m
	}
	return out
}

var flagName = regexp.MustCompile(`^--([a-z0-9-]+)(=|$)`)

func TestManifests(t *testing.T) {
	help := ccserverHelp(t)
	ms := readManifests(t)
	for _, kind := range []string{"Deployment", "Service", "Certificate"} {
		if _, ok := ms[kind]; !ok {
			t.Fatalf("no %s manifest", kind)
		}
	}
	var spec deploymentSpec
	dep, crt := ms["Deployment"], ms["Certificate"]
	if err := dep.Spec.Decode(&spec); err != nil {
		t.Fatal(err)
	}
	if len(spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(spec.Template.Spec.Containers))
	}
	if !spec.Template.Spec.SecurityContext.RunAsNonRoot {
		t.Error("pod may run as root")
	}
	c := spec.Template.Spec.Containers[0]
	flags := map[string]string{}
	for _, a := range c.Args {
		m := flagName.FindStringSubmatch(a)
		if m == nil {
			t.Errorf("argument %q is not a --flag=value", a)
			continue
		}
		if !strings.Contains(help, "--"+m[1]+" ") {
			t.Errorf("the Deployment passes --%s, which ccserver does not have", m[1])
		}
		flags[m[1]], _ = strings.CutPrefix(a, "--"+m[1]+"=")
	}
	known := []string{serve.EnvAddress, serve.EnvCCID, serve.EnvTLSDisabled, serve.EnvTLSCert, serve.EnvTLSKey, serve.EnvClientCA, serve.EnvMSPID}
	for _, e := range c.Env {
		if !contains(known, e.Name) {
			t.Errorf("the Deployment sets %s, which ccserver does not read", e.Name)
		}
	}
	// The whole command line must pass ccserver's own checks (exit 2
	// means a setting is missing or contradictory).
	for _, f := range []string{"tls-cert", "tls-key", "client-ca", "address", "metrics-address"} {
		if flags[f] == "" {
			t.Errorf("the Deployment does not set --%s", f)
		}
	}
	if _, plain := flags["insecure-plaintext"]; plain {
		t.Error("the Deployment serves plaintext")
	}

	// The certificate files come from the cert-manager Secret, mounted as
	// a directory so renewals reach the running server.
	var cert struct {
		SecretName string   `yaml:"secretName"`
		DNSNames   []string `yaml:"dnsNames"`
		Usages     []string `yaml:"usages"`
	}
	if err := crt.Spec.Decode(&cert); err != nil {
		t.Fatal(err)
	}
	tlsVolume := ""
	for _, v := range spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == cert.SecretName {
			tlsVolume = v.Name
		}
	}
	if tlsVolume == "" {
		t.Fatalf("no volume mounts the Certificate's secret %q", cert.SecretName)
	}
	mounted := false
	for _, vm := range c.VolumeMounts {
		if vm.Name != tlsVolume {
			continue
		}
		if vm.Sub != "" {
			t.Error("the TLS secret is mounted with subPath, which the kubelet never updates")
		}
		if flags["tls-cert"] != filepath.Join(vm.Path, "tls.crt") || flags["tls-key"] != filepath.Join(vm.Path, "tls.key") {
			t.Errorf("--tls-cert %s / --tls-key %s are not the secret's files under %s", flags["tls-cert"], flags["tls-key"], vm.Path)
		}
		mounted = true
	}
	if !mounted {
		t.Error("the TLS volume is not mounted")
	}
	if !contains(cert.Usages, "server auth") {
		t.Error("the Certificate lacks the server auth usage")
	}

	// Probes hit the HTTP endpoints ccserver serves on its metrics port.
	metricsPort := ""
	for _, p := range c.Ports {
		if strings.HasSuffix(flags["metrics-address"], ":"+itoa(p.Port)) {
			metricsPort = p.Name
		}
	}
	for name, p := range map[string]*probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", name)
			continue
		}
		if p.HTTPGet.Port != metricsPort || !strings.Contains(help, p.HTTPGet.Path) {
			t.Errorf("%s probe %s on port %s; ccserver serves it on %q", name, p.HTTPGet.Path, p.HTTPGet.Port, metricsPort)
		}
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{"FROM gcr.io/distroless/static", "USER 65532", "./cmd/ccserver", "CGO_ENABLED=0", `ENTRYPOINT ["/usr/local/bin/ccserver"]`} {
		if !strings.Contains(s, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if strings.Count(s, "FROM ") < 2 {
		t.Error("Dockerfile is not multi-stage")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }
