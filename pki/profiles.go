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

// Default lifetimes of the built-in profiles. Short on purpose: ccpki
// renews, and a stolen certificate stops working within a month.
const (
	DefaultServerLifetime = 30 * 24 * time.Hour
	DefaultClientLifetime = 30 * 24 * time.Hour
)

// Backdate is how far before "now" a new certificate becomes valid, to
// absorb clock skew between the CA and the machines that check it.
const Backdate = 5 * time.Minute

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

// BuiltinSigningConfig returns the cfssl signing policy with the "server"
// and "client" profiles.
func BuiltinSigningConfig() *config.Signing {
	cfg, err := parseSigningConfig([]byte(builtinSigningConfig))
	if err != nil {
		panic("pki: built-in signing config: " + err.Error()) // a constant; covered by tests
	}
	return cfg
}

// LoadSigningConfig reads a cfssl ca-config.json and checks its signing
// profiles; errors name the file and the profile at fault.
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

func parseSigningConfig(data []byte) (*config.Signing, error) {
	// cfssl's own errors are terse JSON blobs; check the shape first so
	// the user learns what is wrong.
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
	for name, p := range profiles {
		if p == nil {
			continue
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
	s := cfg.Signing
	check := func(name string, p *config.SigningProfile) error {
		if p == nil {
			return nil
		}
		if p.RemoteName != "" || p.AuthRemote.RemoteName != "" {
			return fmt.Errorf("profile %q uses a remote signer; the local CA signs itself", name)
		}
		if len(p.CTLogServers) > 0 {
			return fmt.Errorf("profile %q submits to CT logs; the local CA does not reach the network", name)
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
	if err := check("default", s.Default); err != nil {
		return nil, err
	}
	for name, p := range s.Profiles {
		if err := check(name, p); err != nil {
			return nil, err
		}
	}
	return s, nil
}

type probeProfile struct {
	Usages []string `json:"usages"`
	Expiry string   `json:"expiry"`
}

// profileNames lists the named profiles of a policy, sorted.
func profileNames(s *config.Signing) string {
	names := make([]string, 0, len(s.Profiles))
	for n := range s.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
