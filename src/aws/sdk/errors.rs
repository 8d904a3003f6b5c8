//! SDK errors → [`Ec2Error`]: service errors through the shared [`classify`] table, transport
//! failures as `Transient`, and `NotFound` for something this process just created as
//! `NotYetVisible` (EC2 is eventually consistent: a new endpoint can be unknown to the next
//! call for a few seconds).

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::operation::RequestId;

use crate::aws::{Ec2Error, Ec2Operation, ErrorKind};

/// Code of an error that never reached EC2 because no credentials could be found.
pub const NO_CREDENTIALS: &str = "NoCredentials";
/// Code of an EC2 response the adapter cannot use (a missing field, an unknown protocol).
pub const UNEXPECTED_RESPONSE: &str = "UnexpectedResponse";
/// How much of an error page without an EC2 error code goes into the message.
const MAX_PAGE_EXCERPT: usize = 200;

/// Classifies a failed SDK call, keeping the id AWS gave the request.
pub fn from_sdk<E>(operation: Ec2Operation, err: SdkError<E, HttpResponse>) -> Ec2Error
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let request_id = request_id_of(&err);
    classify_sdk(operation, err).with_request_id(request_id)
}

/// The request id of a failed call: the `x-amzn-requestid` header, as the SDK reads it, or the
/// `<RequestID>` of EC2's error document when a response carries no header.
fn request_id_of<E>(err: &SdkError<E, HttpResponse>) -> Option<String> {
    if let Some(id) = err.request_id() {
        return Some(id.to_string());
    }
    let raw = match err {
        SdkError::ServiceError(context) => context.raw(),
        SdkError::ResponseError(context) => context.raw(),
        _ => return None,
    };
    let body = std::str::from_utf8(raw.body().bytes()?).ok()?;
    let start = body.find("<RequestID>")? + "<RequestID>".len();
    let id = body[start..].split('<').next()?.trim();
    (!id.is_empty()).then(|| id.to_string())
}

fn classify_sdk<E>(operation: Ec2Operation, err: SdkError<E, HttpResponse>) -> Ec2Error
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    match &err {
        SdkError::ServiceError(context) => {
            let service = context.err();
            match service.code() {
                Some(code) => Ec2Error::from_code(operation, code, service.message().unwrap_or_default()),
                None => uncoded_response(operation, context.raw()),
            }
        }
        SdkError::TimeoutError(_) => Ec2Error::new(
            ErrorKind::Transient,
            operation,
            "Timeout",
            "no response within the configured timeout",
        ),
        SdkError::DispatchFailure(failure) => {
            if let Some(credentials) = find_source::<CredentialsError>(&err) {
                return credentials_error(operation, credentials);
            }
            let (code, kind) = if failure.is_timeout() {
                ("Timeout", ErrorKind::Transient)
            } else if failure.is_io() {
                ("ConnectionFailed", ErrorKind::Transient)
            } else if failure.is_user() {
                ("InvalidRequest", ErrorKind::Invalid)
            } else {
                ("DispatchFailure", ErrorKind::Transient)
            };
            Ec2Error::new(kind, operation, code, chain_message(&err))
        }
        SdkError::ResponseError(_) => Ec2Error::new(
            ErrorKind::Transient,
            operation,
            "ResponseError",
            chain_message(&err),
        ),
        SdkError::ConstructionFailure(_) => Ec2Error::new(
            ErrorKind::Invalid,
            operation,
            "InvalidRequest",
            chain_message(&err),
        ),
        _ => Ec2Error::new(ErrorKind::Transient, operation, "SdkError", chain_message(&err)),
    }
}

/// What went wrong in a failed SDK call of any AWS service, in one line: the service's error
/// code and message, or the cause of a transport failure.
pub fn describe<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    match err {
        SdkError::ServiceError(context) if context.err().code().is_some() => {
            let service = context.err();
            format!(
                "{} ({})",
                service.message().unwrap_or_default(),
                service.code().unwrap_or_default()
            )
        }
        _ => chain_message(err),
    }
}

/// An error response without an EC2 error code (a proxy's or load balancer's page, an empty
/// body): the HTTP status is all there is to classify. A 5xx is a server error as much as EC2's
/// own `InternalError`, so it must not become a permanent `Invalid`. The SDK's own message says
/// nothing here ("unhandled error"), so the message quotes the start of what came back.
fn uncoded_response(operation: Ec2Operation, response: &HttpResponse) -> Ec2Error {
    let status = response.status().as_u16();
    let kind = match status {
        429 => ErrorKind::Throttled,
        500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Invalid,
    };
    let body = String::from_utf8_lossy(response.body().bytes().unwrap_or_default());
    let words: Vec<&str> = body.split_whitespace().collect();
    let excerpt: String = words.join(" ").chars().take(MAX_PAGE_EXCERPT).collect();
    let message = if excerpt.is_empty() {
        format!("HTTP {status} without an EC2 error (empty body)")
    } else {
        format!("HTTP {status} without an EC2 error: {excerpt}")
    };
    Ec2Error::new(kind, operation, format!("HTTP{status}"), message)
}

/// An EC2 response without something the adapter needs.
pub fn unexpected(operation: Ec2Operation, what: impl Into<String>) -> Ec2Error {
    Ec2Error::new(ErrorKind::Invalid, operation, UNEXPECTED_RESPONSE, what)
}

fn credentials_error(operation: Ec2Operation, err: &CredentialsError) -> Ec2Error {
    let message = chain_message(err);
    match err {
        // Nothing in the chain (environment, profile, web identity, container, IMDS) had
        // credentials: a deployment problem that waiting will not fix.
        CredentialsError::CredentialsNotLoaded(_) => Ec2Error::new(
            ErrorKind::AccessDenied,
            operation,
            NO_CREDENTIALS,
            format!(
                "no AWS credentials found (environment, profile, web identity, container, IMDS): {message}"
            ),
        ),
        CredentialsError::InvalidConfiguration(_) => Ec2Error::new(
            ErrorKind::Invalid,
            operation,
            "InvalidCredentialsConfiguration",
            message,
        ),
        _ => Ec2Error::new(ErrorKind::Transient, operation, "CredentialsUnavailable", message),
    }
}

/// The first error of type `T` in `err`'s source chain.
pub(crate) fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// Every message of an error chain, joined: the SDK's top-level messages ("dispatch failure")
/// say nothing a person can act on; the cause is at the bottom.
pub(crate) fn chain_message(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut current = err.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Ids this process created recently, to tell "not yet visible" from "gone".
#[derive(Debug)]
pub struct RecentlyCreated {
    window: Duration,
    created: Mutex<HashMap<String, Instant>>,
}

impl RecentlyCreated {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            created: Mutex::new(HashMap::new()),
        }
    }

    pub fn record(&self, id: &str) {
        let now = Instant::now();
        let mut created = self.created.lock().unwrap_or_else(|p| p.into_inner());
        created.retain(|_, at| now.duration_since(*at) < self.window);
        created.insert(id.to_string(), now);
    }

    /// The id was deleted here: from now on, NotFound for it means gone.
    pub fn forget(&self, id: &str) {
        let mut created = self.created.lock().unwrap_or_else(|p| p.into_inner());
        created.remove(id);
    }

    fn is_recent(&self, id: &str) -> bool {
        let created = self.created.lock().unwrap_or_else(|p| p.into_inner());
        created.get(id).is_some_and(|at| at.elapsed() < self.window)
    }

    /// `NotFound` about one of `ids`, created here moments ago, becomes `NotYetVisible`.
    pub fn reclassify<'a>(&self, mut err: Ec2Error, ids: impl IntoIterator<Item = &'a String>) -> Ec2Error {
        if err.kind == ErrorKind::NotFound && ids.into_iter().any(|id| self.is_recent(id)) {
            err.kind = ErrorKind::NotYetVisible;
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsError;

    use super::*;

    type Failure = SdkError<DescribeVpcsError, HttpResponse>;

    fn response(status: u16) -> HttpResponse {
        page(status, "")
    }

    fn page(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), body.to_string().into())
    }

    fn service_error(code: &str, message: &str) -> Failure {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        SdkError::service_error(DescribeVpcsError::generic(meta), response(400))
    }

    #[test]
    fn service_errors_are_classified_by_their_ec2_code() {
        for (code, kind) in [
            ("RequestLimitExceeded", ErrorKind::Throttled),
            ("UnauthorizedOperation", ErrorKind::AccessDenied),
            ("InvalidVpcEndpointId.NotFound", ErrorKind::NotFound),
            ("InvalidParameterValue", ErrorKind::Invalid),
            ("InternalError", ErrorKind::Transient),
        ] {
            let err = from_sdk(Ec2Operation::DescribeVpcs, service_error(code, "because"));
            assert_eq!((err.kind, err.code.as_str()), (kind, code));
            assert_eq!(err.message, "because");
            assert_eq!(err.operation, Ec2Operation::DescribeVpcs);
        }
    }

    #[test]
    fn an_error_page_without_an_ec2_code_is_classified_by_its_http_status() {
        // What a proxy or load balancer in front of EC2 may answer: a page with no EC2 error
        // code in it.
        let bad_gateway = "<html>\n  <body><h1>502 Bad Gateway</h1></body>\n</html>";
        for (status, kind) in [
            (502, ErrorKind::Transient),
            (503, ErrorKind::Transient),
            (429, ErrorKind::Throttled),
            (403, ErrorKind::Invalid),
        ] {
            let uncoded = DescribeVpcsError::generic(ErrorMetadata::builder().build());
            let err = from_sdk(
                Ec2Operation::DescribeVpcs,
                SdkError::service_error(uncoded, page(status, bad_gateway)),
            );
            assert_eq!(
                (err.kind, err.code.as_str()),
                (kind, format!("HTTP{status}").as_str())
            );
            assert_eq!(
                err.message,
                format!(
                    "HTTP {status} without an EC2 error: <html> <body><h1>502 Bad Gateway</h1></body> </html>"
                )
            );
        }

        let empty = DescribeVpcsError::generic(ErrorMetadata::builder().build());
        let err = from_sdk(
            Ec2Operation::DescribeVpcs,
            SdkError::service_error(empty, response(503)),
        );
        assert_eq!(err.message, "HTTP 503 without an EC2 error (empty body)");
        let long = DescribeVpcsError::generic(ErrorMetadata::builder().build());
        let err = from_sdk(
            Ec2Operation::DescribeVpcs,
            SdkError::service_error(long, page(502, &"x".repeat(10_000))),
        );
        assert!(err.message.len() < 300, "{}", err.message.len());
    }

    #[test]
    fn a_failed_call_keeps_the_request_id_from_the_header_or_else_from_the_error_document() {
        let meta = || {
            ErrorMetadata::builder()
                .code("InvalidParameter")
                .message("no")
                .build()
        };
        let mut response = page(400, "<Response></Response>");
        response
            .headers_mut()
            .insert("x-amzn-requestid", "59dbff89-35bd-4eac-99ed-be587EXAMPLE");
        let err = from_sdk(
            Ec2Operation::ModifyVpcEndpoint,
            SdkError::service_error(DescribeVpcsError::generic(meta()), response),
        );
        assert_eq!(
            err.request_id.as_deref(),
            Some("59dbff89-35bd-4eac-99ed-be587EXAMPLE")
        );

        let document = "<Response><Errors><Error><Code>InvalidParameter</Code></Error></Errors>\
                        <RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>";
        let err = from_sdk(
            Ec2Operation::ModifyVpcEndpoint,
            SdkError::service_error(DescribeVpcsError::generic(meta()), page(400, document)),
        );
        assert_eq!(
            err.request_id.as_deref(),
            Some("7a62c49f-347e-4fc4-9331-6e8eEXAMPLE")
        );

        let timeout: Failure = SdkError::timeout_error("slow");
        assert_eq!(
            from_sdk(Ec2Operation::DescribeVpcs, timeout).request_id,
            None,
            "never reached AWS"
        );
    }

    #[test]
    fn timeouts_and_connection_failures_are_transient() {
        let timeout: Failure = SdkError::timeout_error("slow");
        assert_eq!(
            from_sdk(Ec2Operation::DescribeVpcs, timeout).kind,
            ErrorKind::Transient
        );

        let io = aws_sdk_ec2::error::ConnectorError::io("connection refused".into());
        let err = from_sdk(Ec2Operation::DescribeVpcs, Failure::dispatch_failure(io));
        assert_eq!(
            (err.kind, err.code.as_str()),
            (ErrorKind::Transient, "ConnectionFailed")
        );
        assert!(err.message.contains("connection refused"), "{}", err.message);
    }

    #[test]
    fn missing_credentials_are_access_denied_not_a_retry_loop() {
        let missing = CredentialsError::not_loaded("no providers in chain provided credentials");
        let dispatch = aws_sdk_ec2::error::ConnectorError::other(Box::new(missing), None);
        let err = from_sdk(Ec2Operation::DescribeVpcs, Failure::dispatch_failure(dispatch));
        assert_eq!(
            (err.kind, err.code.as_str()),
            (ErrorKind::AccessDenied, NO_CREDENTIALS)
        );
    }

    #[test]
    fn not_found_for_a_freshly_created_endpoint_is_not_yet_visible() {
        let recent = RecentlyCreated::new(Duration::from_secs(60));
        recent.record("vpce-new");
        let not_found = || {
            Ec2Error::new(
                ErrorKind::NotFound,
                Ec2Operation::ModifyVpcEndpoint,
                "InvalidVpcEndpointId.NotFound",
                "",
            )
        };
        let new = ["vpce-new".to_string()];
        let old = ["vpce-old".to_string()];
        assert_eq!(
            recent.reclassify(not_found(), &new).kind,
            ErrorKind::NotYetVisible
        );
        assert_eq!(recent.reclassify(not_found(), &old).kind, ErrorKind::NotFound);

        recent.forget("vpce-new");
        assert_eq!(
            recent.reclassify(not_found(), &new).kind,
            ErrorKind::NotFound,
            "deleted here, so gone"
        );

        let expired = RecentlyCreated::new(Duration::ZERO);
        expired.record("vpce-new");
        assert_eq!(expired.reclassify(not_found(), &new).kind, ErrorKind::NotFound);
    }
}
