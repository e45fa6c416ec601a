package serve

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"

	"github.com/ccserver/ccserver/tlsconfig"
	"github.com/spf13/pflag"
)

// tlsFlags are the TLS flags, bound straight onto a tlsconfig.ServerSpec:
// the spec validates them, and an error naming a spec field is shown with
// the flag (or environment variable) that set it. A new TLS setting is a
// spec field and one line in register.
type tlsFlags struct {
	spec  tlsconfig.ServerSpec
	flags []tlsFlag
}

// tlsFlag ties a flag to the spec field it sets and, for the file names
// fabric-samples and contract-api pass, the environment variables it falls
// back to, in order.
type tlsFlag struct {
	field, flag string
	envs        []string
}

func (t *tlsFlags) register(fs *pflag.FlagSet) {
	s := &t.spec
	b := tlsBinder{t: t, fs: fs}
	b.str(&s.CertFile, "tls-cert", "server certificate chain, PEM file; reloaded on change", EnvTLSCert, EnvContractTLSCert)
	b.str(&s.KeyFile, "tls-key", "server private key, PEM file, mode 0600; reloaded on change", EnvTLSKey, EnvContractTLSKey)
	b.str(&s.ClientCAFile, "client-ca", "CA bundle whose client certificates (the peers') are admitted, PEM file; reloaded on change", EnvClientCA, EnvContractClientCA)
	b.strs(&s.Pins, "pin", "admit only peers whose verified chain holds this SPKI pin: sha256/<base64>, or 64 hex digits with or without colons (repeatable)")
	b.rules(&s.IdentityRules, "client-identity", "admit only peers whose certificate matches `rule`: comma-separated o=, ou=, dns=, uri= terms that must all match, '|' between alternatives, e.g. o=Org1MSP,ou=peer (repeatable: matching one rule is enough)")
	b.orgs(&s.Orgs, "allow", "admit the peers of one org only through its own CA or pin, `ORG=CAFILE|PIN`; the org is the subject O of the peer's client certificate (ccpki issue --org), e.g. --allow Org1MSP=/etc/ccserver/org1-ca.pem (repeatable; CA files reloaded on change)")
	b.str(&s.OrgsDir, "allow-dir", "directory of per-org CA bundles named ORG.pem or ORG.crt, re-read on change and SIGHUP: a file added admits that org without a restart, e.g. --allow-dir /etc/ccserver/orgs")
	b.str(&s.CRLFile, "crl", "CRL file (PEM or DER) checked at every handshake; reloaded on change")
	b.bool(&s.CRLFailOpen, "crl-fail-open", "admit peers while the CRL is past its nextUpdate (default: refuse them)")
	b.bool(&s.CRLRequireFullChain, "crl-require-full-chain", "also require a current CRL from every CA above the peer's issuer (default: check those when present)")
	b.text(&s.MinVersion, "tls-min-version", tlsconfig.VersionTLS12, "minimum TLS `version`: 1.2 or 1.3")
	b.bool(&s.InsecureNoClientAuth, "insecure-no-client-auth", "TLS without client certificates: any client that reaches the port is admitted")
	b.bool(&s.InsecureClientCALeaf, "insecure-client-ca-leaf", "accept a --client-ca that holds a leaf (not a CA) certificate: it then admits exactly that certificate")
	b.bool(&s.InsecureKeyPermissions, "insecure-key-permissions", "accept a key file that group or others can read")
}

// withEnv returns a copy of the parsed spec with the environment
// fallbacks applied, and how each field was set: "--flag", or the
// variable's name when it came from the environment.
func (t *tlsFlags) withEnv(changed func(string) bool, env func(string) string) (tlsconfig.ServerSpec, map[string]string) {
	spec := t.spec
	names := make(map[string]string, len(t.flags))
	v := reflect.ValueOf(&spec).Elem()
	for _, f := range t.flags {
		names[f.field] = "--" + f.flag
		if changed(f.flag) {
			continue
		}
		for _, name := range f.envs {
			if fv := v.FieldByName(f.field); fv.String() == "" && env(name) != "" {
				fv.SetString(env(name))
				names[f.field] = name
				break
			}
		}
	}
	return spec, names
}

// envs maps spec fields to their first environment fallback.
func (t *tlsFlags) envs() map[string]string {
	m := map[string]string{}
	for _, f := range t.flags {
		if len(f.envs) > 0 {
			m[f.field] = f.envs[0]
		}
	}
	return m
}

// tlsBinder registers a flag and records the spec field it points at.
type tlsBinder struct {
	t  *tlsFlags
	fs *pflag.FlagSet
}

func (b tlsBinder) add(ptr any, flag string, envs ...string) {
	b.t.flags = append(b.t.flags, tlsFlag{field: specField(&b.t.spec, ptr), flag: flag, envs: envs})
}

func (b tlsBinder) str(p *string, flag, usage string, envs ...string) {
	b.add(p, flag, envs...)
	if len(envs) > 0 {
		usage += " (env " + strings.Join(envs, ", then ") + ")"
	}
	b.fs.StringVar(p, flag, "", usage)
}

func (b tlsBinder) strs(p *[]string, flag, usage string) {
	b.add(p, flag)
	b.fs.StringArrayVar(p, flag, nil, usage)
}

func (b tlsBinder) bool(p *bool, flag, usage string) {
	b.add(p, flag)
	b.fs.BoolVar(p, flag, false, usage)
}

func (b tlsBinder) text(p encoding.TextUnmarshaler, flag string, def encoding.TextMarshaler, usage string) {
	b.add(p, flag)
	b.fs.TextVar(p, flag, def, usage)
}

func (b tlsBinder) rules(p *[]tlsconfig.IdentityRule, flag, usage string) {
	b.add(p, flag)
	b.fs.Var(textList[tlsconfig.IdentityRule, *tlsconfig.IdentityRule]{p}, flag, usage)
}

func (b tlsBinder) orgs(p *[]tlsconfig.OrgAdmission, flag, usage string) {
	b.add(p, flag, "")
	b.fs.Var(textList[tlsconfig.OrgAdmission, *tlsconfig.OrgAdmission]{p}, flag, usage)
}

// specField names the field of spec that ptr points at. Deriving the name
// from the pointer keeps the flag-to-field table from drifting.
func specField(spec *tlsconfig.ServerSpec, ptr any) string {
	sv, p := reflect.ValueOf(spec).Elem(), reflect.ValueOf(ptr)
	for i := range sv.NumField() {
		if a := sv.Field(i).Addr(); a.Pointer() == p.Pointer() && a.Type() == p.Type() {
			return sv.Type().Field(i).Name
		}
	}
	panic(fmt.Sprintf("serve: %T is not a field of tlsconfig.ServerSpec", ptr))
}

// textList is a repeatable flag whose values parse with the element
// type's UnmarshalText.
type textList[T any, P interface {
	*T
	encoding.TextUnmarshaler
}] struct{ dst *[]T }

func (l textList[T, P]) Set(s string) error {
	var v T
	if err := P(&v).UnmarshalText([]byte(s)); err != nil {
		return err
	}
	*l.dst = append(*l.dst, v)
	return nil
}

func (l textList[T, P]) String() string {
	if l.dst == nil || len(*l.dst) == 0 {
		return ""
	}
	parts := make([]string, len(*l.dst))
	for i, v := range *l.dst {
		parts[i] = fmt.Sprint(v)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func (l textList[T, P]) Type() string { return "rule" }
