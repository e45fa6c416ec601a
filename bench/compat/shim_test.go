package compat_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/ccserver/ccserver/shim"
	anchor "github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// The compatibility promise: a chaincode written against the anchor
// (fabric-chaincode-go/v2 v2.3.0) compiles against this shim after changing
// only the import path. These tests compare the two packages by reflection.

var (
	anchorPkg = reflect.TypeOf(anchor.ChaincodeStub{}).PkgPath()
	ourPkg    = reflect.TypeOf(shim.ChaincodeStub{}).PkgPath()
)

// typeDiff explains how ours differs from the anchor's type a, or returns
// "" when they match. Named types of the anchor's shim package must map to
// the same name in ours; every other named type (protos, grpc, stdlib) must
// be the identical type.
func typeDiff(a, o reflect.Type) string {
	if a.Name() != "" {
		if a.PkgPath() == anchorPkg {
			if o.PkgPath() != ourPkg || o.Name() != a.Name() {
				return fmt.Sprintf("anchor shim.%s, ours %s", a.Name(), o)
			}
			return ""
		}
		if a != o {
			return fmt.Sprintf("anchor %s (%s), ours %s (%s)", a, a.PkgPath(), o, o.PkgPath())
		}
		return ""
	}
	if o.Name() != "" || a.Kind() != o.Kind() {
		return fmt.Sprintf("anchor %s, ours %s", a, o)
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Slice:
		return typeDiff(a.Elem(), o.Elem())
	case reflect.Array:
		if a.Len() != o.Len() {
			return fmt.Sprintf("anchor %s, ours %s", a, o)
		}
		return typeDiff(a.Elem(), o.Elem())
	case reflect.Chan:
		if a.ChanDir() != o.ChanDir() {
			return fmt.Sprintf("anchor %s, ours %s", a, o)
		}
		return typeDiff(a.Elem(), o.Elem())
	case reflect.Map:
		if d := typeDiff(a.Key(), o.Key()); d != "" {
			return "map key: " + d
		}
		return typeDiff(a.Elem(), o.Elem())
	case reflect.Func:
		return funcDiff(a, o, 0)
	case reflect.Interface, reflect.Struct:
		// Unnamed interfaces and structs do not appear in the anchor's API;
		// require them to be spelled identically.
		if a != o {
			return fmt.Sprintf("anchor %s, ours %s", a, o)
		}
	}
	return ""
}

// funcDiff compares two func types, skipping the first skip parameters
// (the receiver of a method value taken from a concrete type).
func funcDiff(a, o reflect.Type, skip int) string {
	if a.NumIn() != o.NumIn() || a.NumOut() != o.NumOut() || a.IsVariadic() != o.IsVariadic() {
		return fmt.Sprintf("anchor %s, ours %s", a, o)
	}
	for i := skip; i < a.NumIn(); i++ {
		if d := typeDiff(a.In(i), o.In(i)); d != "" {
			return fmt.Sprintf("parameter %d: %s", i-skip+1, d)
		}
	}
	for i := range a.NumOut() {
		if d := typeDiff(a.Out(i), o.Out(i)); d != "" {
			return fmt.Sprintf("result %d: %s", i+1, d)
		}
	}
	return ""
}

// methodDiffs lists every method of the anchor's type a that ours lacks or
// declares with another signature. For concrete types the receiver is
// skipped; for interfaces reflect already omits it.
func methodDiffs(a, o reflect.Type) []string {
	skip := 1
	if a.Kind() == reflect.Interface {
		skip = 0
	}
	var diffs []string
	for i := range a.NumMethod() {
		am := a.Method(i)
		om, ok := o.MethodByName(am.Name)
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s.%s: missing", o, am.Name))
			continue
		}
		if d := funcDiff(am.Type, om.Type, skip); d != "" {
			diffs = append(diffs, fmt.Sprintf("%s.%s: %s", o, am.Name, d))
		}
	}
	return diffs
}

// fieldDiffs lists the anchor's exported struct fields that ours lacks or
// types differently (embedding included).
func fieldDiffs(a, o reflect.Type) []string {
	var diffs []string
	for i := range a.NumField() {
		af := a.Field(i)
		if !af.IsExported() {
			continue
		}
		of, ok := o.FieldByName(af.Name)
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s.%s: missing field", o, af.Name))
			continue
		}
		if af.Anonymous != of.Anonymous {
			diffs = append(diffs, fmt.Sprintf("%s.%s: embedded %v in the anchor, %v in ours", o, af.Name, af.Anonymous, of.Anonymous))
		}
		if d := typeDiff(af.Type, of.Type); d != "" {
			diffs = append(diffs, fmt.Sprintf("%s.%s: %s", o, af.Name, d))
		}
	}
	return diffs
}

func ifaceOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }

func TestCompatInterfaces(t *testing.T) {
	tests := []struct {
		name        string
		anchor, our reflect.Type
		wantMethods int // the anchor's count, so a new anchor method is noticed
	}{
		{"ChaincodeStubInterface", ifaceOf[anchor.ChaincodeStubInterface](), ifaceOf[shim.ChaincodeStubInterface](), 43},
		{"Chaincode", ifaceOf[anchor.Chaincode](), ifaceOf[shim.Chaincode](), 2},
		{"CommonIteratorInterface", ifaceOf[anchor.CommonIteratorInterface](), ifaceOf[shim.CommonIteratorInterface](), 2},
		{"StateQueryIteratorInterface", ifaceOf[anchor.StateQueryIteratorInterface](), ifaceOf[shim.StateQueryIteratorInterface](), 3},
		{"HistoryQueryIteratorInterface", ifaceOf[anchor.HistoryQueryIteratorInterface](), ifaceOf[shim.HistoryQueryIteratorInterface](), 3},
		{"PeerChaincodeStream", ifaceOf[anchor.PeerChaincodeStream](), ifaceOf[shim.PeerChaincodeStream](), 2},
		{"ClientStream", ifaceOf[anchor.ClientStream](), ifaceOf[shim.ClientStream](), 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := tc.anchor.NumMethod(); n != tc.wantMethods {
				t.Errorf("the anchor's %s has %d methods, this test expects %d: review the new ones", tc.name, n, tc.wantMethods)
			}
			for _, d := range methodDiffs(tc.anchor, tc.our) {
				t.Error(d)
			}
			// An interface with extra methods would break chaincode that
			// implements it (Chaincode, the streams, mocks of the stub).
			if tc.our.NumMethod() != tc.anchor.NumMethod() {
				t.Errorf("our %s has %d methods, the anchor's %d: adding methods to an interface breaks its implementers",
					tc.name, tc.our.NumMethod(), tc.anchor.NumMethod())
			}
		})
	}
}

func TestCompatConcreteTypes(t *testing.T) {
	tests := []struct {
		name        string
		anchor, our reflect.Type
	}{
		{"*ChaincodeStub", reflect.TypeOf(&anchor.ChaincodeStub{}), reflect.TypeOf(&shim.ChaincodeStub{})},
		{"*ChaincodeServer", reflect.TypeOf(&anchor.ChaincodeServer{}), reflect.TypeOf(&shim.ChaincodeServer{})},
		{"*CommonIterator", reflect.TypeOf(&anchor.CommonIterator{}), reflect.TypeOf(&shim.CommonIterator{})},
		{"*StateQueryIterator", reflect.TypeOf(&anchor.StateQueryIterator{}), reflect.TypeOf(&shim.StateQueryIterator{})},
		{"*HistoryQueryIterator", reflect.TypeOf(&anchor.HistoryQueryIterator{}), reflect.TypeOf(&shim.HistoryQueryIterator{})},
		{"*Handler", reflect.TypeOf(&anchor.Handler{}), reflect.TypeOf(&shim.Handler{})},
		{"TLSProperties", reflect.TypeOf(anchor.TLSProperties{}), reflect.TypeOf(shim.TLSProperties{})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The anchor's method set must be a subset of ours.
			for _, d := range methodDiffs(tc.anchor, tc.our) {
				t.Error(d)
			}
			a, o := tc.anchor, tc.our
			if a.Kind() == reflect.Pointer {
				a, o = a.Elem(), o.Elem()
			}
			for _, d := range fieldDiffs(a, o) {
				t.Error(d)
			}
		})
	}
}

func TestCompatNamedMembers(t *testing.T) {
	// Spelled out so a rename on either side is caught even if the
	// reflective walk above were to miss it.
	fields := []struct {
		typ    string
		anchor reflect.Type
		our    reflect.Type
		names  []string
	}{
		{"ChaincodeServer", reflect.TypeOf(anchor.ChaincodeServer{}), reflect.TypeOf(shim.ChaincodeServer{}), []string{"CCID", "Address", "CC", "TLSProps", "KaOpts"}},
		{"TLSProperties", reflect.TypeOf(anchor.TLSProperties{}), reflect.TypeOf(shim.TLSProperties{}), []string{"Disabled", "Key", "Cert", "ClientCACerts"}},
		{"ChaincodeStub", reflect.TypeOf(anchor.ChaincodeStub{}), reflect.TypeOf(shim.ChaincodeStub{}), []string{"TxID", "ChannelID"}},
		{"StateQueryIterator", reflect.TypeOf(anchor.StateQueryIterator{}), reflect.TypeOf(shim.StateQueryIterator{}), []string{"CommonIterator"}},
		{"HistoryQueryIterator", reflect.TypeOf(anchor.HistoryQueryIterator{}), reflect.TypeOf(shim.HistoryQueryIterator{}), []string{"CommonIterator"}},
	}
	for _, f := range fields {
		for _, name := range f.names {
			af, aok := f.anchor.FieldByName(name)
			of, ook := f.our.FieldByName(name)
			switch {
			case !aok:
				t.Errorf("the anchor's %s has no field %s: update this test", f.typ, name)
			case !ook:
				t.Errorf("%s.%s: missing", f.typ, name)
			default:
				if d := typeDiff(af.Type, of.Type); d != "" {
					t.Errorf("%s.%s: %s", f.typ, name, d)
				}
				if af.Anonymous != of.Anonymous {
					t.Errorf("%s.%s: embedded in the anchor %v, in ours %v", f.typ, name, af.Anonymous, of.Anonymous)
				}
			}
		}
	}
	for _, it := range []reflect.Type{reflect.TypeOf(shim.StateQueryIterator{}), reflect.TypeOf(shim.HistoryQueryIterator{})} {
		if f := it.Field(0); !f.Anonymous || f.Type != reflect.TypeOf(&shim.CommonIterator{}) {
			t.Errorf("%s must embed *CommonIterator first, has %s %s", it.Name(), f.Name, f.Type)
		}
	}
	methods := []struct {
		anchor, our reflect.Type
		names       []string
	}{
		{reflect.TypeOf(&anchor.ChaincodeServer{}), reflect.TypeOf(&shim.ChaincodeServer{}), []string{"Connect", "Start"}},
		{reflect.TypeOf(&anchor.StateQueryIterator{}), reflect.TypeOf(&shim.StateQueryIterator{}), []string{"HasNext", "Next", "Close"}},
		{reflect.TypeOf(&anchor.HistoryQueryIterator{}), reflect.TypeOf(&shim.HistoryQueryIterator{}), []string{"HasNext", "Next", "Close"}},
	}
	for _, m := range methods {
		for _, name := range m.names {
			am, aok := m.anchor.MethodByName(name)
			om, ook := m.our.MethodByName(name)
			if !aok || !ook {
				t.Errorf("%s.%s: in anchor %v, in ours %v", m.our, name, aok, ook)
				continue
			}
			if d := funcDiff(am.Type, om.Type, 1); d != "" {
				t.Errorf("%s.%s: %s", m.our, name, d)
			}
		}
	}
}

func TestCompatFuncsAndConstants(t *testing.T) {
	funcs := []struct {
		name        string
		anchor, our any
	}{
		{"Success", anchor.Success, shim.Success},
		{"Error", anchor.Error, shim.Error},
		{"CreateCompositeKey", anchor.CreateCompositeKey, shim.CreateCompositeKey},
		{"Start", anchor.Start, shim.Start},
		{"StartInProc", anchor.StartInProc, shim.StartInProc},
		{"GetMSPID", anchor.GetMSPID, shim.GetMSPID},
	}
	for _, f := range funcs {
		if d := funcDiff(reflect.TypeOf(f.anchor), reflect.TypeOf(f.our), 0); d != "" {
			t.Errorf("func %s: %s", f.name, d)
		}
	}
	consts := []struct {
		name        string
		anchor, our int
	}{
		{"OK", anchor.OK, shim.OK},
		{"ERRORTHRESHOLD", anchor.ERRORTHRESHOLD, shim.ERRORTHRESHOLD},
		{"ERROR", anchor.ERROR, shim.ERROR},
		{"StateQueryResult", int(anchor.StateQueryResult), int(shim.StateQueryResult)},
		{"HistoryQueryResult", int(anchor.HistoryQueryResult), int(shim.HistoryQueryResult)},
	}
	for _, c := range consts {
		if c.anchor != c.our {
			t.Errorf("const %s = %d, the anchor's is %d", c.name, c.our, c.anchor)
		}
	}
}

// The comparison must be able to fail: run it on pairs that differ in each
// way a divergence can show up.
type (
	refStub interface {
		GetState(key string) ([]byte, error)
	}
	wrongArg interface {
		GetState(key []byte) ([]byte, error)
	}
	wrongRes interface {
		GetState(key string) (string, error)
	}
	renamed interface {
		GetStates(key string) ([]byte, error)
	}
	variadic interface {
		GetState(key ...string) ([]byte, error)
	}
	refSrv struct {
		CCID string
		Opts *int
	}
	wrongField struct {
		CCID []byte
		Opts *int
	}
	missingField struct{ CCID string }
)

func TestCompatCheckerDetectsDivergence(t *testing.T) {
	ref := ifaceOf[refStub]()
	for _, tc := range []struct {
		name string
		typ  reflect.Type
	}{
		{"parameter type", ifaceOf[wrongArg]()},
		{"result type", ifaceOf[wrongRes]()},
		{"method name", ifaceOf[renamed]()},
		{"variadic", ifaceOf[variadic]()},
	} {
		if len(methodDiffs(ref, tc.typ)) == 0 {
			t.Errorf("%s: divergence not detected", tc.name)
		}
	}
	if d := methodDiffs(ref, ref); len(d) != 0 {
		t.Errorf("identical interfaces reported as different: %v", d)
	}
	if len(fieldDiffs(reflect.TypeOf(refSrv{}), reflect.TypeOf(wrongField{}))) == 0 {
		t.Error("field type divergence not detected")
	}
	if len(fieldDiffs(reflect.TypeOf(refSrv{}), reflect.TypeOf(missingField{}))) == 0 {
		t.Error("missing field not detected")
	}
	// A protos type from another package with the same name is not the same.
	if typeDiff(reflect.TypeOf(anchor.Success(nil)), reflect.TypeOf(&struct{ Status int32 }{})) == "" {
		t.Error("a different response type was accepted")
	}
	// Our type where the anchor uses a stdlib type of the same shape.
	if typeDiff(reflect.TypeOf(anchor.TLSProperties{}), reflect.TypeOf(shim.ChaincodeServer{})) == "" {
		t.Error("a differently named shim type was accepted")
	}
}
