//! EC2 error codes → [`ErrorKind`]: one table, shared by the SDK adapter and the simulated
//! world so both classify the same code the same way.

use super::ErrorKind;

/// Classifies an EC2 error code (and, where EC2 reuses a generic code, its message).
///
/// Codes are matched exactly or by their documented families (`*.NotFound`, `*.Malformed`);
/// unknown codes are `Invalid` (a client error we cannot retry our way out of), never
/// `Transient`, so that an unknown failure cannot make the controller hammer the API.
pub fn classify(code: &str, message: &str) -> ErrorKind {
    let msg = message.to_ascii_lowercase();
    match code {
        "RequestLimitExceeded"
        | "Throttling"
        | "ThrottlingException"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "TooManyRequestsException"
        | "SlowDown" => ErrorKind::Throttled,
        "UnauthorizedOperation"
        | "AccessDenied"
        | "AccessDeniedException"
        | "AuthFailure"
        | "OptInRequired"
        | "Blocked" => ErrorKind::AccessDenied,
        "InvalidPermission.Duplicate" => ErrorKind::Duplicate,
        "IdempotentParameterMismatch" => ErrorKind::IdempotencyMismatch,
        "InternalError"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "Unavailable"
        | "RequestTimeout"
        | "RequestExpired"
        | "InsufficientCapacity" => ErrorKind::Transient,
        "RulesPerSecurityGroupLimitExceeded"
        | "VpcEndpointLimitExceeded"
        | "SecurityGroupLimitExceeded"
        | "ResourceLimitExceeded"
        | "PrivateDnsNameConflict" => ErrorKind::Precondition,
        "DryRunOperation" => ErrorKind::Invalid,
        // EC2 reports private-DNS preconditions as a generic InvalidParameter; the message is
        // the only place the cause is named.
        "InvalidParameter" | "InvalidParameterValue" | "InvalidParameterCombination"
            if is_private_dns_precondition(&msg) =>
        {
            ErrorKind::Precondition
        }
        c if c.ends_with(".NotFound") || c == "NotFound" => ErrorKind::NotFound,
        c if c.starts_with("Invalid") || c.ends_with(".Malformed") || c.starts_with("Missing") => {
            ErrorKind::Invalid
        }
        c if c.contains("LimitExceeded") => ErrorKind::Precondition,
        _ => ErrorKind::Invalid,
    }
}

fn is_private_dns_precondition(msg: &str) -> bool {
    (msg.contains("private dns") || msg.contains("private-dns") || msg.contains("privatedns"))
        && (msg.contains("enablednssupport")
            || msg.contains("enablednshostnames")
            || msg.contains("conflicting")
            || msg.contains("does not support")
            || msg.contains("does not provide a private dns name")
            || msg.contains("no private dns name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_fall_into_their_documented_kinds() {
        for (code, message, kind) in [
            (
                "RequestLimitExceeded",
                "Request limit exceeded.",
                ErrorKind::Throttled,
            ),
            (
                "UnauthorizedOperation",
                "You are not authorized",
                ErrorKind::AccessDenied,
            ),
            (
                "InvalidVpcEndpointId.NotFound",
                "The Vpc Endpoint Id does not exist",
                ErrorKind::NotFound,
            ),
            ("InvalidGroup.NotFound", "", ErrorKind::NotFound),
            ("InvalidPermission.Duplicate", "", ErrorKind::Duplicate),
            ("IdempotentParameterMismatch", "", ErrorKind::IdempotencyMismatch),
            ("InvalidVpcID.Malformed", "", ErrorKind::Invalid),
            ("InvalidParameter", "subnet-1 is not in vpc-2", ErrorKind::Invalid),
            ("RulesPerSecurityGroupLimitExceeded", "", ErrorKind::Precondition),
            ("InternalError", "", ErrorKind::Transient),
            ("SomethingNew", "", ErrorKind::Invalid),
        ] {
            assert_eq!(classify(code, message), kind, "{code}");
        }
    }

    #[test]
    fn private_dns_preconditions_are_recognised_in_invalid_parameter_messages() {
        assert_eq!(
            classify(
                "InvalidParameter",
                "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for vpc-1"
            ),
            ErrorKind::Precondition
        );
        assert_eq!(
            classify(
                "InvalidParameter",
                "private-dns-enabled cannot be set because there is already a conflicting DNS domain for logs.ap-northeast-1.amazonaws.com in the VPC vpc-1"
            ),
            ErrorKind::Precondition
        );
        assert_eq!(
            classify(
                "InvalidParameter",
                "Private DNS can't be enabled because the service com.amazonaws.vpce.ap-northeast-1.vpce-svc-0123 does not provide a private DNS name."
            ),
            ErrorKind::Precondition
        );
    }
}
