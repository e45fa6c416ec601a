package devpeer_test

import (
	"fmt"
	"testing"

	"github.com/ccserver/ccserver/devpeer"
)

func ExampleParseConnection() {
	c, err := devpeer.ParseConnection([]byte(`{"address":"basic.org1.example.com:9999","dial_timeout":"10s","tls_required":false}`))
	fmt.Println(c.Address, c.DialTimeout, c.TLSRequired, err)
	_, err = devpeer.ParseConnection([]byte(`{"address":"cc:9999","tls_required":"true"}`))
	fmt.Println(err != nil)
	// Output:
	// basic.org1.example.com:9999 10s false <nil>
	// true
}

func FuzzParseConnection(f *testing.F) {
	for _, s := range []string{
		`{"address":"cc:9999","dial_timeout":"10s","tls_required":false}`,
		`{"address":"cc:9999","dial_timeout":5000000,"tls_required":true,"root_cert":"x"}`,
		`{"address":"cc:9999","client_auth_required":"true"}`,
		`{"address":"[::1]:1","domain":"d","tls_required":true,"client_auth_required":true,"root_cert":"r","client_cert":"c","client_key":"k"}`,
		`{`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := devpeer.ParseConnection(b)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed connection fails validation: %v", err)
		}
	})
}
