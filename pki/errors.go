package pki

import (
	"errors"

	"github.com/ccserver/ccserver/internal/fsutil"
)

// Errors callers branch on, matched with errors.Is. They name what went
// wrong in the library's own terms (a field, an argument, a file); a
// command line adds what to type about it.
var (
	// ErrExists: InitCA, or an issue into a directory, would overwrite
	// material that is already there (InitOptions.Force replaces a CA).
	ErrExists = errors.New("refusing to overwrite existing files")

	// ErrNoCA: OpenLocal was given a directory that holds no CA made by
	// InitCA.
	ErrNoCA = errors.New("not a CA directory")

	// ErrUnknownProfile: the signing policy has no profile of the
	// requested name, or a renewal could not tell which profile the
	// current certificate came from.
	ErrUnknownProfile = errors.New("unknown signing profile")

	// ErrOutlivesCA: the certificate asked for would stay valid after the
	// CA certificate that signs it expires.
	ErrOutlivesCA = errors.New("the certificate would outlive its CA")

	// ErrUnauthorized: a CA refused the caller's credentials (a wrong
	// cfssl auth key, a bad step-ca token or password, a revoked or
	// expired certificate presented for renewal).
	ErrUnauthorized = errors.New("the CA refused the credentials")

	// ErrUnavailable: the CA could not be reached; a renewer keeps the
	// current certificate and retries.
	ErrUnavailable = errors.New("the CA is unreachable")

	// ErrInsecureKeyFile: a private key file can be read by group or
	// others (ReadOptions.AllowInsecureKeyFile and its siblings accept it).
	ErrInsecureKeyFile = fsutil.ErrInsecurePermissions

	// ErrVerify: a certificate failed Verify, as opposed to bad input.
	ErrVerify = errors.New("verification failed")

	// ErrStaleCRL: the CRL given to Verify is past its nextUpdate; it
	// must be signed afresh (Local.WriteCRL). Wrapped together with
	// ErrVerify.
	ErrStaleCRL = errors.New("the CRL is stale")
)

// errNotIssuedHere: Local.Revoke was given a certificate another CA
// signed.
var errNotIssuedHere = errors.New("certificate was not issued by this CA")
