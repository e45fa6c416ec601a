package shim

import (
	"crypto/tls"
	"crypto/x509"
	"reflect"
	"testing"

	"github.com/ccserver/ccserver/tlsconfig"
)

type fakeIdentity struct{}

func (fakeIdentity) Identity() (*tls.Certificate, error) { return nil, nil }

// TestTLSPropertiesMapOntoSpec: every field of TLSProperties but Disabled
// is the tlsconfig.ServerSpec field of the same name and reaches it
// unchanged, so a field added to one and not the other fails here, and a
// spec error naming a field names the TLSProperties field too.
func TestTLSPropertiesMapOntoSpec(t *testing.T) {
	pt, st := reflect.TypeFor[TLSProperties](), reflect.TypeFor[tlsconfig.ServerSpec]()
	var p TLSProperties
	pv := reflect.ValueOf(&p).Elem()
	for i := range pt.NumField() {
		f, v := pt.Field(i), pv.Field(i)
		if f.Name == "Disabled" {
			continue
		}
		sf, ok := st.FieldByName(f.Name)
		if !ok || !f.Type.ConvertibleTo(sf.Type) {
			t.Errorf("TLSProperties.%s (%s) has no ServerSpec field of that name and type", f.Name, f.Type)
			continue
		}
		switch f.Type {
		case reflect.TypeFor[string]():
			v.SetString(f.Name)
		case reflect.TypeFor[[]byte]():
			v.SetBytes([]byte(f.Name))
		case reflect.TypeFor[bool]():
			v.SetBool(true)
		case reflect.TypeFor[uint16]():
			v.SetUint(tls.VersionTLS13)
		case reflect.TypeFor[[]string]():
			v.Set(reflect.ValueOf([]string{f.Name}))
		case reflect.TypeFor[[]tlsconfig.IdentityRule]():
			v.Set(reflect.ValueOf([]tlsconfig.IdentityRule{{Organizations: []string{f.Name}}}))
		case reflect.TypeFor[tlsconfig.IdentitySource]():
			v.Set(reflect.ValueOf(fakeIdentity{}))
		case reflect.TypeFor[tlsconfig.Authorizer]():
			v.Set(reflect.ValueOf(tlsconfig.Authorizer(func([][]*x509.Certificate) error { return nil })))
		case reflect.TypeFor[func(tlsconfig.Event)]():
			v.Set(reflect.ValueOf(func(tlsconfig.Event) {}))
		default:
			t.Fatalf("TLSProperties.%s: the test does not know how to fill a %s", f.Name, f.Type)
		}
	}
	spec := p.spec()
	sv := reflect.ValueOf(spec)
	for i := range pt.NumField() {
		f := pt.Field(i)
		if f.Name == "Disabled" {
			continue
		}
		got, want := sv.FieldByName(f.Name), pv.Field(i)
		if want.Kind() == reflect.Func {
			if got.Pointer() != want.Pointer() {
				t.Errorf("%s: the spec holds another function", f.Name)
			}
			continue
		}
		if !reflect.DeepEqual(got.Interface(), want.Convert(got.Type()).Interface()) {
			t.Errorf("%s: spec has %v, want %v", f.Name, got, want)
		}
	}
	// What the spec has beyond TLSProperties stays zero.
	for _, name := range []string{"ClientTrust", "CRL", "DisableSessionTickets", "TrustChanged"} {
		if !sv.FieldByName(name).IsZero() {
			t.Errorf("spec field %s set from TLSProperties", name)
		}
	}
	if propsField("ClientTrust") != "" || propsField("ClientCAFile") != "ClientCAFile" {
		t.Error("propsField offers a field TLSProperties lacks, or drops one it has")
	}
}
