package pki

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cloudflare/cfssl/config"

	"github.com/ccserver/ccserver/internal/fsutil"
)

// builtinLifetime is the expiry of the built-in profiles. Short on
// purpose: certificates are renewed, and a stolen one stops working
// within a month.
const builtinLifetime = 30 * 24 * time.Hour

// backdate is how far before "now" a new certificate or CRL becomes
// valid, to absorb clock skew between the CA and the machines that check
// it.
const backdate = 5 * time.Minute

// The built-in profiles, in cfssl's ca-config.json format so users can
// start from them: "server" for the chaincode server (serverAuth) and
// "client" for the peer's identity towards it (clientAuth).
const builtinSigningConfig = `{
  "signing": {
    "default": {"usages": ["digital signature"], "expiry": "720h"},
    "profiles": {
      "server": {"usages": ["digital signature", "server auth"], "expiry": "720h"},
      "client": {"usages": ["digital signature", "client auth"], "expiry": "720h"}
    }
  }
}`

// builtinSigning returns the cfssl signing policy with the "server" and
// "client" profiles.
func builtinSigning() *config.Signing {
	cfg, err := parseSigningConfig([]byte(builtinSigningConfig))
	if err != nil {
		panic("pki: built-in signing config: " + err.Error()) // a constant; covered by tests
	}
	return cfg
}

// LoadSigningConfig reads a cfssl ca-config.json and checks its signing
// profiles, for LocalOptions.SigningPolicy; errors name the file and the
// profile at fault.
func LoadSigningConfig(path string) (*config.Signing, error) {
	data, err := fsutil.ReadFile(path, maxPEMFile)
	if err != nil {
		return nil, err
	}
	cfg, err := parseSigningConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// probeProfile is the part of a profile checked before cfssl parses the
// file: cfssl's own errors are terse, and it logs warnings about remote
// profiles through its process-wide logger while parsing.
type probeProfile struct {
	Usages     []string `json:"usages"`
	Expiry     string   `json:"expiry"`
	Remote     string   `json:"remote"`
	AuthRemote struct {
		Remote string `json:"remote"`
	} `json:"auth_remote"`
}

func parseSigningConfig(data []byte) (*config.Signing, error) {
	var probe struct {
		Signing *struct {
			Default  *probeProfile            `json:"default"`
			Profiles map[string]*probeProfile `json:"profiles"`
		} `json:"signing"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if probe.Signing == nil {
		return nil, errors.New(`no "signing" section; a cfssl ca-config.json looks like {"signing": {"profiles": {"server": {"usages": [...], "expiry": "720h"}}}}`)
	}
	profiles := map[string]*probeProfile{"default": probe.Signing.Default}
	for n, p := range probe.Signing.Profiles {
		profiles[n] = p
	}
	for _, name := range sortedKeys(profiles) {
		p := profiles[name]
		if p == nil {
			continue
		}
		if p.Remote != "" || p.AuthRemote.Remote != "" {
			return nil, fmt.Errorf("profile %q uses a remote signer; the local CA signs itself", name)
		}
		for _, u := range p.Usages {
			_, ku := config.KeyUsage[u]
			_, eku := config.ExtKeyUsage[u]
			if !ku && !eku {
				return nil, fmt.Errorf("profile %q: unknown usage %q (e.g. \"digital signature\", \"server auth\", \"client auth\")", name, u)
			}
		}
		if p.Expiry != "" {
			if _, err := time.ParseDuration(p.Expiry); err != nil {
				return nil, fmt.Errorf("profile %q: expiry %q is not a duration like \"720h\"", name, p.Expiry)
			}
		}
	}
	cfg, err := config.LoadConfig(data)
	if err != nil {
		return nil, fmt.Errorf("invalid cfssl signing config (check each profile's \"expiry\" like \"720h\" and \"usages\"): %v", err)
	}
	if err := checkSigning(cfg.Signing); err != nil {
		return nil, err
	}
	return cfg.Signing, nil
}

// checkSigning refuses what the local CA cannot do with a policy, whether
// it came from a file or was built in code: remote signers, CT logs,
// pre-issuance linting and serial numbers chosen by the client.
func checkSigning(s *config.Signing) error {
	if s == nil {
		return errors.New("the signing policy is empty")
	}
	if err := checkProfile("default", s.Default); err != nil {
		return err
	}
	for _, name := range sortedKeys(s.Profiles) {
		if err := checkProfile(name, s.Profiles[name]); err != nil {
			return err
		}
	}
	return nil
}

func checkProfile(name string, p *config.SigningProfile) error {
	if p == nil {
		return nil
	}
	if p.RemoteName != "" || p.AuthRemote.RemoteName != "" {
		return fmt.Errorf("profile %q uses a remote signer; the local CA signs itself", name)
	}
	if len(p.CTLogServers) > 0 {
		return fmt.Errorf("profile %q submits to CT logs; the local CA does not reach the network", name)
	}
	if p.LintErrLevel > 0 {
		return fmt.Errorf("profile %q sets lint_error_level; the local CA does not lint certificates before issuing them", name)
	}
	if p.ClientProvidesSerialNumbers {
		return fmt.Errorf("profile %q expects the client to choose serial numbers; the local CA chooses them", name)
	}
	ku, eku, unknown := p.Usages()
	if len(unknown) > 0 {
		return fmt.Errorf("profile %q has unknown usages %q", name, unknown)
	}
	if ku == 0 && len(eku) == 0 {
		return fmt.Errorf("profile %q has no usages", name)
	}
	if p.Expiry <= 0 && p.NotAfter.IsZero() {
		return fmt.Errorf("profile %q has no expiry", name)
	}
	return nil
}

// profileNames lists the named profiles of a policy, sorted.
func profileNames(s *config.Signing) string {
	return strings.Join(sortedKeys(s.Profiles), ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
