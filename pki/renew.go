package pki

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Renewal defaults, following cert-manager and step: renew when a third of
// the lifetime is left, spread by up to a twentieth of it; retry failures
// after 5s, doubling up to 10m.
const (
	DefaultRenewBefore = 1.0 / 3
	DefaultMinBackoff  = 5 * time.Second
	DefaultMaxBackoff  = 10 * time.Minute
	defaultJitter      = 1.0 / 20
)

// RenewerConfig configures a Renewer. Backend and Dir are required; the
// zero value of every other field is the default.
type RenewerConfig struct {
	Backend Backend
	// Dir holds tls.crt, tls.key and ca.crt (LayoutCertManager or
	// LayoutFlat).
	Dir string
	// Profile for the new certificate; "" infers "server" or "client"
	// from the current certificate's extended key usage.
	Profile string
	// Lifetime of the new certificate; 0 keeps the current one's.
	Lifetime time.Duration
	// RenewBefore is the fraction of the lifetime left at which to renew
	// (default 1/3); Jitter the fraction of the lifetime by which renewal
	// is randomly moved earlier (default 1/20; negative disables).
	RenewBefore, Jitter float64
	// ReuseKey signs the new certificate for the current key instead of a
	// fresh one of the same type.
	ReuseKey bool
	// Layout is how the new certificate is written: LayoutCertManager
	// (the ..data generation swap) or LayoutFlat.
	Layout Layout
	// MinBackoff and MaxBackoff bound the retry delay after a failure.
	MinBackoff, MaxBackoff time.Duration
	// AllowInsecureKeyFile reads a key file that group or others can read.
	AllowInsecureKeyFile bool
	// AfterRenew runs after each successful renewal (e.g. a hook that
	// tells a server to reload); its error is reported, the new
	// certificate stays.
	AfterRenew func(ctx context.Context, issued *Issued) error
	// Now is the clock renewals are scheduled by; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Renewer keeps the certificate in a directory fresh. Run loops until its
// context ends; RenewIfDue and Renew do one step.
type Renewer struct {
	cfg    RenewerConfig
	jitter map[string]time.Duration // per serial, so the schedule is stable
	// after replaces Run's timer in tests, whose clock is not the wall's.
	after func(time.Duration) <-chan time.Time
}

// NewRenewer checks cfg and fills defaults.
func NewRenewer(cfg RenewerConfig) (*Renewer, error) {
	if cfg.Backend == nil || cfg.Dir == "" {
		return nil, errors.New("renewer: RenewerConfig.Backend and RenewerConfig.Dir are required")
	}
	if cfg.Layout != LayoutCertManager && cfg.Layout != LayoutFlat {
		return nil, fmt.Errorf("renewer: RenewerConfig.Layout %v: a renewal reads and writes LayoutCertManager or LayoutFlat", cfg.Layout)
	}
	if cfg.RenewBefore == 0 {
		cfg.RenewBefore = DefaultRenewBefore
	}
	if cfg.RenewBefore <= 0 || cfg.RenewBefore >= 1 {
		return nil, fmt.Errorf("renewer: RenewerConfig.RenewBefore %v must be a fraction between 0 and 1", cfg.RenewBefore)
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = defaultJitter
	}
	if cfg.Jitter < 0 {
		cfg.Jitter = 0
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	cfg.Now = clock(cfg.Now)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Renewer{cfg: cfg, jitter: map[string]time.Duration{}}, nil
}

// renewAt is when cert should be renewed: when RenewBefore of its lifetime
// is left, moved earlier by a random jitter.
func (r *Renewer) renewAt(cert *x509.Certificate) time.Time {
	life := cert.NotAfter.Sub(cert.NotBefore)
	key := cert.SerialNumber.String()
	j, ok := r.jitter[key]
	if !ok {
		if span := int64(float64(life) * r.cfg.Jitter); span > 0 {
			j = time.Duration(rand.Int64N(span))
		}
		r.jitter = map[string]time.Duration{key: j}
	}
	return cert.NotAfter.Add(-time.Duration(float64(life)*r.cfg.RenewBefore) - j)
}

// RenewIfDue renews when the certificate in Dir is due and returns
// whether it did and when the next renewal is due. On error the files in
// Dir are untouched.
func (r *Renewer) RenewIfDue(ctx context.Context) (renewed bool, next time.Time, err error) {
	kp, err := r.read()
	if err != nil {
		return false, time.Time{}, err
	}
	if at := r.renewAt(kp.Certificate); r.cfg.Now().Before(at) {
		return false, at, nil
	}
	next, err = r.renewPair(ctx, kp)
	return !next.IsZero(), next, err
}

// Renew renews the certificate in Dir now, whatever the time left, and
// returns when the next renewal is due. On error the files in Dir are
// untouched; a zero next with an error means the renewal itself failed
// (not just AfterRenew).
func (r *Renewer) Renew(ctx context.Context) (next time.Time, err error) {
	kp, err := r.read()
	if err != nil {
		return time.Time{}, err
	}
	return r.renewPair(ctx, kp)
}

func (r *Renewer) read() (*KeyPair, error) {
	return ReadCertManager(r.cfg.Dir, ReadOptions{AllowInsecureKeyFile: r.cfg.AllowInsecureKeyFile})
}

// renewPair replaces kp, logs it and runs AfterRenew; next is zero when
// nothing was renewed.
func (r *Renewer) renewPair(ctx context.Context, kp *KeyPair) (next time.Time, err error) {
	issued, err := r.renew(ctx, kp)
	if err != nil {
		return time.Time{}, err
	}
	r.cfg.Logger.Info("certificate renewed", "dir", r.cfg.Dir, "serial", issued.Certificate.SerialNumber.Text(16),
		"not_after", issued.Certificate.NotAfter, "spki_pin", SPKIPin(issued.Certificate))
	next = r.renewAt(issued.Certificate)
	if r.cfg.AfterRenew != nil {
		if err := r.cfg.AfterRenew(ctx, issued); err != nil {
			return next, fmt.Errorf("after renewal: %w", err)
		}
	}
	return next, nil
}

func (r *Renewer) renew(ctx context.Context, kp *KeyPair) (*Issued, error) {
	profile := r.cfg.Profile
	var inferErr error
	if profile == "" {
		// A certificate with both usages (step-ca's default) names no
		// profile; backends that keep the current usages (step-ca's renew)
		// need none, and the others say so below.
		profile, inferErr = inferProfile(kp.Certificate)
	}
	lifetime := r.cfg.Lifetime
	if lifetime == 0 {
		lifetime = kp.Certificate.NotAfter.Sub(kp.Certificate.NotBefore)
		if lifetime > 2*backdate {
			lifetime -= backdate
		}
	}
	spec := specFromCertificate(kp.Certificate)
	var key crypto.Signer = kp.Key
	if !r.cfg.ReuseKey {
		var err error
		if key, err = GenerateKey(spec.KeyType); err != nil {
			return nil, err
		}
	}
	csr, err := NewCSR(key, spec)
	if err != nil {
		return nil, err
	}
	issued, err := r.cfg.Backend.Renew(ctx, kp.Certificate, kp.Key, &Request{CSR: csr, Profile: profile, Lifetime: lifetime})
	if err != nil && inferErr != nil && errors.Is(err, ErrUnknownProfile) {
		err = inferErr
	}
	if err != nil {
		return nil, fmt.Errorf("renew %s: %w", r.cfg.Dir, err)
	}
	if !keyMatches(issued.Certificate, key) {
		return nil, fmt.Errorf("renew %s: the CA returned a certificate for another key", r.cfg.Dir)
	}
	if len(issued.Roots) == 0 {
		issued.Roots = kp.Roots
	}
	if err := r.cfg.Layout.Write(r.cfg.Dir, issued, key); err != nil {
		return nil, fmt.Errorf("renew %s: %w", r.cfg.Dir, err)
	}
	return issued, nil
}

// inferProfile names the built-in profile matching cert's purpose.
func inferProfile(cert *x509.Certificate) (string, error) {
	var server, client bool
	for _, u := range cert.ExtKeyUsage {
		server = server || u == x509.ExtKeyUsageServerAuth
		client = client || u == x509.ExtKeyUsageClientAuth
	}
	switch {
	case server && !client:
		return "server", nil
	case client && !server:
		return "client", nil
	}
	return "", fmt.Errorf("cannot tell the profile of %q from its usages %v: %w; name it in RenewerConfig.Profile", cert.Subject.CommonName, usages(cert), ErrUnknownProfile)
}

// Run renews whenever due until ctx ends, retrying failures with capped
// exponential backoff; the current certificate stays in place while the CA
// is unreachable. onError, if set, sees every failure. Run returns nil when
// ctx is cancelled.
func (r *Renewer) Run(ctx context.Context, onError func(error)) error {
	failures := 0
	for {
		_, next, err := r.RenewIfDue(ctx)
		var wait time.Duration
		if err != nil && next.IsZero() {
			failures++
			wait = r.backoff(failures)
			r.cfg.Logger.Warn("renewal failed; keeping the current certificate", "dir", r.cfg.Dir, "retry_in", wait, "err", err)
			if onError != nil {
				onError(err)
			}
		} else {
			if err != nil && onError != nil {
				onError(err) // hook failed; the certificate itself is fine
			}
			failures = 0
			wait = max(next.Sub(r.cfg.Now()), r.cfg.MinBackoff)
		}
		if !r.sleep(ctx, wait) {
			return nil
		}
	}
}

// sleep waits d, or until ctx ends (false).
func (r *Renewer) sleep(ctx context.Context, d time.Duration) bool {
	var fire <-chan time.Time
	if r.after != nil {
		fire = r.after(d)
	} else {
		t := time.NewTimer(d)
		defer t.Stop()
		fire = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-fire:
		return true
	}
}

func (r *Renewer) backoff(failures int) time.Duration {
	d := r.cfg.MinBackoff
	for i := 1; i < failures && d < r.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.cfg.MaxBackoff)
}
