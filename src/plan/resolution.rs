//! Whether the service's name can still lead a client to the object's endpoint.
//!
//! With private DNS on, every client resolves the service to the endpoint. Once it is off,
//! clients may still hold an answer that points at the endpoint for the record TTL
//! ([`super::Timing::private_dns_ttl`]). A rule a client needs, or a path it takes, may be
//! taken away only once no answer can lead it here: the endpoint is gone, or private DNS has
//! been seen off for at least the TTL. [`super::deletion`] orders deletion by it,
//! [`super::drift`] holds spec changes by it.
//!
//! The time private DNS was first seen off lives in the status
//! (`status.privateDnsOffSince`, kept by [`off_since`]), so that a restart does not forget it.
//! Someone else may also turn private DNS on and off again between two passes of the object:
//! when another object's look saw it on meanwhile ([`SeenOff`]), the TTL runs from the first
//! look that found it off again.
//! A leaf: it reads the status, the looks and the observed endpoint, and no stage.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::Timing;
use crate::api::InterfaceEndpointStatus;
use crate::model::VpcEndpoint;

/// What the controller's looks (every object's, since the process started) saw of private DNS:
/// for each endpoint some look found serving, since when it has been seen off (the first look
/// after the last one that found it on; the pass's own time when that last look found it on).
/// Empty where nothing is shared (`plan`, the demo): the status alone then says.
pub type SeenOff = BTreeMap<String, Timestamp>;

/// No look remembered.
pub static NOTHING_SEEN: SeenOff = BTreeMap::new();

/// Whether a DNS answer can lead a client to the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Private DNS is on: the service's name resolves to the endpoint now.
    Serving,
    /// Private DNS is off, but answers given before may still be cached for `remaining`.
    Cached { remaining: Duration },
    /// No answer leads here: private DNS has been off for at least the TTL, or the status
    /// never saw it on.
    Unresolved,
}

impl Resolution {
    /// Whether taking a path away now can cut a client off.
    pub fn may_lead_clients_here(self) -> bool {
        !matches!(self, Self::Unresolved)
    }
}

/// The resolution of `endpoint` at `now`, from what `previous` (the last written status)
/// recorded about it and what the looks saw.
pub fn of(
    endpoint: &VpcEndpoint,
    previous: &InterfaceEndpointStatus,
    seen: &SeenOff,
    now: Timestamp,
    timing: &Timing,
) -> Resolution {
    if endpoint.private_dns_enabled {
        return Resolution::Serving;
    }
    let Some(since) = off_since(endpoint, previous, seen, now) else {
        return Resolution::Unresolved;
    };
    let off_for = Duration::try_from(now.duration_since(since)).unwrap_or(Duration::ZERO);
    match timing.private_dns_ttl.checked_sub(off_for) {
        Some(remaining) if !remaining.is_zero() => Resolution::Cached { remaining },
        _ => Resolution::Unresolved,
    }
}

/// Whether the last written status shows private DNS on for `endpoint`: then a look that finds
/// it off starts the record TTL ([`off_since`]), whoever turned it off and whether or not the
/// status of that pass was written.
///
/// The controller turns private DNS off only on an endpoint for which this holds: a status that
/// does not show it on (the status of the pass that turned it on was lost, or EC2 showed the
/// change only later) would otherwise let the next look, finding it off with nothing recorded,
/// take the endpoint for one no name ever led to, and delete it or narrow its paths at once
/// while clients still hold answers pointing at it. Until it holds, the pass writes the status
/// that shows private DNS on, and turns it off in the next one.
pub fn status_shows_serving(endpoint: &VpcEndpoint, previous: &InterfaceEndpointStatus) -> bool {
    previous.private_dns_enabled && previous.endpoint_id.as_deref() == Some(endpoint.vpc_endpoint_id.as_str())
}

/// Since when private DNS has been seen off on `endpoint`: as recorded, or `now` when the last
/// status saw it on (this is the first look that sees it off); or, when a look saw it on after
/// that, since the first look that found it off again (`seen`; the later of the two wins).
/// `None` while it is on, and when neither a status nor a look ever saw it on (the name never
/// led anyone here).
///
/// A crash between turning private DNS off and writing the status loses nothing: the status
/// still says it was on, so the next look starts the clock, later than the real change.
pub fn off_since(
    endpoint: &VpcEndpoint,
    previous: &InterfaceEndpointStatus,
    seen: &SeenOff,
    now: Timestamp,
) -> Option<Timestamp> {
    if endpoint.private_dns_enabled {
        return None;
    }
    let looked = seen.get(&endpoint.vpc_endpoint_id).copied();
    recorded_off_since(endpoint, previous, now).max(looked)
}

/// [`off_since`] as the status alone says it.
fn recorded_off_since(
    endpoint: &VpcEndpoint,
    previous: &InterfaceEndpointStatus,
    now: Timestamp,
) -> Option<Timestamp> {
    let same = previous.endpoint_id.as_deref() == Some(endpoint.vpc_endpoint_id.as_str());
    if !same {
        // Another endpoint (a re-created one, created with private DNS off like every
        // endpoint the controller creates), or a status that never named one: no status saw
        // private DNS on for it.
        return None;
    }
    let recorded = previous
        .private_dns_off_since
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok());
    // Seen on last time, or turned off by the last pass and not seen since: this look is the
    // first that sees it off.
    recorded.or_else(|| (previous.private_dns_enabled || previous.private_dns_off_unseen).then_some(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::*;

    fn endpoint(private_dns: bool) -> VpcEndpoint {
        with_endpoint(incident_world(), "available", private_dns).vpc_endpoints[0].clone()
    }

    fn status_seen(private_dns: bool, off_since: Option<Timestamp>) -> InterfaceEndpointStatus {
        let mut status = created_status(now_minus(3600));
        status.private_dns_enabled = private_dns;
        status.private_dns_off_since = off_since.map(|t| t.to_string());
        status
    }

    #[test]
    fn private_dns_on_serves_the_name_now() {
        let r = of(
            &endpoint(true),
            &status_seen(true, None),
            &NOTHING_SEEN,
            now(),
            &timing(),
        );
        assert_eq!(r, Resolution::Serving);
    }

    #[test]
    fn the_first_look_that_sees_private_dns_off_starts_the_ttl() {
        let previous = status_seen(true, None);
        assert_eq!(
            off_since(&endpoint(false), &previous, &NOTHING_SEEN, now()),
            Some(now())
        );
        let r = of(&endpoint(false), &previous, &NOTHING_SEEN, now(), &timing());
        assert_eq!(
            r,
            Resolution::Cached {
                remaining: timing().private_dns_ttl
            }
        );
    }

    #[test]
    fn answers_are_cached_until_the_ttl_has_passed_since_private_dns_was_seen_off() {
        let ttl = timing().private_dns_ttl.as_secs() as i64;
        let cached = status_seen(false, Some(now_minus(ttl - 10)));
        assert_eq!(
            of(&endpoint(false), &cached, &NOTHING_SEEN, now(), &timing()),
            Resolution::Cached {
                remaining: Duration::from_secs(10)
            }
        );
        let expired = status_seen(false, Some(now_minus(ttl)));
        assert_eq!(
            of(&endpoint(false), &expired, &NOTHING_SEEN, now(), &timing()),
            Resolution::Unresolved
        );
    }

    #[test]
    fn an_endpoint_the_status_never_saw_with_private_dns_on_leads_nobody_here() {
        let r = of(
            &endpoint(false),
            &status_seen(false, None),
            &NOTHING_SEEN,
            now(),
            &timing(),
        );
        assert_eq!(r, Resolution::Unresolved);
    }

    #[test]
    fn a_period_on_that_another_objects_look_saw_runs_the_ttl_from_the_look_that_found_it_off() {
        // The status recorded the turn-off long ago; since then someone turned private DNS on
        // and off again, and another object's look saw it on: the TTL runs from the first look
        // that found it off again, not from the recorded turn-off.
        let ttl = timing().private_dns_ttl.as_secs() as i64;
        let previous = status_seen(false, Some(now_minus(10 * ttl)));
        let e = endpoint(false);
        let seen = SeenOff::from([(e.vpc_endpoint_id.clone(), now_minus(5))]);
        assert_eq!(off_since(&e, &previous, &seen, now()), Some(now_minus(5)));
        assert_eq!(
            of(&e, &previous, &seen, now(), &timing()),
            Resolution::Cached {
                remaining: timing().private_dns_ttl - Duration::from_secs(5)
            }
        );
        // Without the look, the recorded turn-off says no answer leads here any more.
        assert_eq!(
            of(&e, &previous, &NOTHING_SEEN, now(), &timing()),
            Resolution::Unresolved
        );
    }

    #[test]
    fn a_look_that_saw_private_dns_on_counts_even_when_no_status_did() {
        let e = endpoint(false);
        let seen = SeenOff::from([(e.vpc_endpoint_id.clone(), now())]);
        assert_eq!(
            of(&e, &status_seen(false, None), &seen, now(), &timing()),
            Resolution::Cached {
                remaining: timing().private_dns_ttl
            }
        );
        // Another endpoint's look says nothing of this one.
        let other = SeenOff::from([("vpce-other".to_string(), now())]);
        assert_eq!(
            of(&e, &status_seen(false, None), &other, now(), &timing()),
            Resolution::Unresolved
        );
    }

    #[test]
    fn a_recorded_turn_off_later_than_the_looks_wins() {
        let previous = status_seen(false, Some(now_minus(5)));
        let e = endpoint(false);
        let seen = SeenOff::from([(e.vpc_endpoint_id.clone(), now_minus(50))]);
        assert_eq!(off_since(&e, &previous, &seen, now()), Some(now_minus(5)));
    }
}
