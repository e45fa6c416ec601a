package stepca

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"go.step.sm/crypto/jose"

	"github.com/ccserver/ccserver/pki"
)

// tokenLifetime is how long a one-time token is valid; step-ca accepts
// tokens up to a few minutes old and refuses reuse anyway.
const tokenLifetime = 5 * time.Minute

// jwk is a decrypted provisioner key; kept unexported so it cannot leak
// through the API.
type jwk struct {
	key *jose.JSONWebKey
}

// String hides the key from fmt.
func (*jwk) String() string { return "stepca provisioner key" }

// provisioner is the part of step-ca's provisioner list the client reads.
type provisioner struct {
	Type         string           `json:"type"`
	Name         string           `json:"name"`
	Key          *jose.JSONWebKey `json:"key"`
	EncryptedKey string           `json:"encryptedKey"`
}

// provisionerKey returns the provisioner's private key, decrypting it on
// first use.
func (c *Client) provisionerKey(ctx context.Context, hc *http.Client) (*jwk, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.key != nil {
		return c.key, nil
	}
	var k *jose.JSONWebKey
	var err error
	if len(c.keyData) > 0 {
		k, err = c.keyFromData()
	} else {
		k, err = c.keyFromCA(ctx, hc)
	}
	if err != nil {
		return nil, err
	}
	if k.IsPublic() {
		return nil, fmt.Errorf("stepca: the key of provisioner %q is a public key; a private key is needed to sign tokens", c.provisioner)
	}
	if k.Algorithm == "" {
		if k.Algorithm, err = algorithmFor(k.Key); err != nil {
			return nil, err
		}
	}
	if k.KeyID == "" {
		if k.KeyID, err = jose.Thumbprint(k); err != nil {
			return nil, fmt.Errorf("stepca: computing the key id of provisioner %q: %w", c.provisioner, err)
		}
	}
	c.key = &jwk{key: k}
	return c.key, nil
}

func (c *Client) keyFromData() (*jose.JSONWebKey, error) {
	var opts []jose.Option
	if len(c.password) > 0 {
		opts = append(opts, jose.WithPassword(c.password))
	}
	k, err := jose.ParseKey(c.keyData, opts...)
	if err != nil {
		// The parser's message names the failing step, never the key.
		return nil, fmt.Errorf("stepca: reading the key of provisioner %q (a JWK, encrypted JWK or PEM private key; encrypted ones need the provisioner password): %w: %v",
			c.provisioner, pki.ErrUnauthorized, err)
	}
	return k, nil
}

// keyFromCA finds the provisioner in the CA's list and decrypts its
// published key with the password.
func (c *Client) keyFromCA(ctx context.Context, hc *http.Client) (*jose.JSONWebKey, error) {
	var found *provisioner
	var seen []string
	cursor := ""
	for page := 0; page < 100 && found == nil; page++ {
		var out struct {
			Provisioners []json.RawMessage `json:"provisioners"`
			NextCursor   string            `json:"nextCursor"`
		}
		path := "/provisioners?limit=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if _, err := c.do(ctx, hc, http.MethodGet, path, nil, &out, http.StatusOK); err != nil {
			return nil, err
		}
		for _, raw := range out.Provisioners {
			var p provisioner
			if err := json.Unmarshal(raw, &p); err != nil {
				// Other provisioner types have other shapes; only the name matters here.
				var named struct{ Type, Name string }
				if json.Unmarshal(raw, &named) != nil {
					return nil, fmt.Errorf("stepca: %s/provisioners returned a malformed provisioner: %w", c.base, err)
				}
				p = provisioner{Type: named.Type, Name: named.Name}
			}
			seen = append(seen, fmt.Sprintf("%s (%s)", p.Name, p.Type))
			if p.Name == c.provisioner && p.Type == "JWK" {
				found = &p
				break
			}
		}
		if out.NextCursor == "" || out.NextCursor == cursor {
			break
		}
		cursor = out.NextCursor
	}
	if found == nil {
		sort.Strings(seen)
		return nil, fmt.Errorf("stepca: the CA at %s has no JWK provisioner named %q (it has: %v): check the provisioner name", c.base, c.provisioner, seen)
	}
	if found.EncryptedKey == "" {
		return nil, fmt.Errorf("stepca: provisioner %q does not publish an encrypted key: give its private key file instead", c.provisioner)
	}
	if len(c.password) == 0 {
		return nil, fmt.Errorf("stepca: the provisioner password is empty: it is needed to decrypt the key of provisioner %q", c.provisioner)
	}
	plain, err := jose.Decrypt([]byte(found.EncryptedKey), jose.WithPassword(c.password))
	if err != nil {
		return nil, fmt.Errorf("stepca: the password does not decrypt the key of provisioner %q: check the provisioner password: %w", c.provisioner, pki.ErrUnauthorized)
	}
	k := new(jose.JSONWebKey)
	if err := json.Unmarshal(plain, k); err != nil {
		return nil, fmt.Errorf("stepca: the decrypted key of provisioner %q is not a JWK", c.provisioner)
	}
	if found.Key != nil {
		if !pki.SamePublicKey(found.Key.Key, k.Public().Key) {
			return nil, fmt.Errorf("stepca: the decrypted key of provisioner %q does not match its published public key", c.provisioner)
		}
		if k.KeyID == "" {
			k.KeyID = found.Key.KeyID
		}
	}
	return k, nil
}

func algorithmFor(key any) (string, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
	case ed25519.PrivateKey:
		return jose.EdDSA, nil
	case *rsa.PrivateKey:
		return jose.RS256, nil
	}
	return "", fmt.Errorf("stepca: unsupported provisioner key type %T", key)
}

// tokenClaims is the payload of a step-ca one-time token.
type tokenClaims struct {
	jose.Claims
	SANs []string `json:"sans,omitempty"`
	SHA  string   `json:"sha,omitempty"`
}

// token signs a one-time token for the endpoint at path (e.g.
// "/1.0/sign"). The audience is built from the URL's host, as step-ca
// builds its own from its DNS names.
func (c *Client) token(k *jwk, subject string, sans []string, path string) (string, error) {
	if k == nil || k.key == nil {
		return "", errors.New("stepca: no provisioner key")
	}
	var jti [32]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("stepca: token id: %w", err)
	}
	now := time.Now()
	claims := tokenClaims{
		Claims: jose.Claims{
			ID:        hex.EncodeToString(jti[:]),
			Issuer:    c.provisioner,
			Subject:   subject,
			Audience:  jose.Audience{"https://" + c.base.Host + path},
			NotBefore: jose.NewNumericDate(now),
			IssuedAt:  jose.NewNumericDate(now),
			Expiry:    jose.NewNumericDate(now.Add(tokenLifetime)),
		},
		SANs: sans,
		SHA:  hex.EncodeToString(c.fingerprint),
	}
	so := new(jose.SignerOptions).WithType("JWT").WithHeader("kid", k.key.KeyID)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.key.Algorithm), Key: k.key.Key}, so)
	if err != nil {
		return "", fmt.Errorf("stepca: making a token signer for provisioner %q (algorithm %s): %w", c.provisioner, k.key.Algorithm, jose.TrimPrefix(err))
	}
	// Sign the marshalled claims directly rather than through the JWT
	// builder, whose method names differ between go-jose v3 and v4.
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("stepca: encoding token claims: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("stepca: signing a token for provisioner %q: %w", c.provisioner, jose.TrimPrefix(err))
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("stepca: serializing a token for provisioner %q: %w", c.provisioner, jose.TrimPrefix(err))
	}
	return tok, nil
}
