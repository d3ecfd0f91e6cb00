package storage

import (
	"errors"
	"fmt"
)

// ErrAccessDenied means the storage refused the credentials (HTTP 401 or 403, or an
// error code that says the key or signature is wrong). Providers wrap it.
var ErrAccessDenied = errors.New("access denied")

// Check applies the guide's rules for the location scheme to the credentials (for
// example: awsendpoint without awsregion is refused); gcsEndpoint is Config.GCSEndpoint.
func (c Credentials) Check(scheme string, insecure bool, gcsEndpoint string) error {
	var err error
	switch scheme {
	case SchemeS3:
		_, err = c.AWS(insecure)
	case SchemeAzure:
		_, err = c.Azure()
	case SchemeGCP:
		_, err = c.GCP(gcsEndpoint)
	}
	return err
}

// AccessDenied wraps err with ErrAccessDenied when the HTTP status is 401 or 403; for
// the providers' error mapping.
func AccessDenied(err error, status int) error {
	if (status != 401 && status != 403) || errors.Is(err, ErrAccessDenied) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrAccessDenied, err)
}
