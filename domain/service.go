package domain

import "fmt"

// MaxServiceNameLen is the longest service name accepted: a DNS label.
const MaxServiceNameLen = 63

// ValidateServiceName checks a service name against the guide's naming rule,
// made exact: 1 to 63 characters of lowercase ASCII letters, digits and
// hyphens, starting with a letter and not ending with a hyphen (a DNS label,
// so `kyc`, `data-processor`, `reference-data` pass; `KYC`, `-kyc`, `kyc-`,
// `kyc_svc` do not). The error wraps ErrInvalidServiceName and never
// repeats more than the name's length, since a name may be anything a
// client typed.
//
// It does not allocate for a valid name: it runs on every cache hit.
func ValidateServiceName(name string) error {
	if reason := serviceNameProblem(name); reason != "" {
		return fmt.Errorf("%w: %s", ErrInvalidServiceName, reason)
	}
	return nil
}

func serviceNameProblem(name string) string {
	n := len(name)
	switch {
	case n == 0:
		return "service name is empty"
	case n > MaxServiceNameLen:
		return "service name is longer than 63 characters"
	case name[0] < 'a' || name[0] > 'z':
		return "service name must start with a lowercase letter"
	case name[n-1] == '-':
		return "service name must not end with a hyphen"
	}
	for i := 1; i < n; i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return "service name may hold only lowercase letters, digits and hyphens"
		}
	}
	return ""
}
