//! Performing one [`Action`] through the EC2 port, with EC2's idempotency quirks absorbed:
//! a duplicate rule is already there, a missing rule or endpoint is already gone. Every call
//! is recorded in the pass's [`Trail`] as it is made.

use super::audit::Trail;
use crate::api::Owner;
use crate::aws::{AuthorizeRules, Ec2, Ec2Error, ErrorKind, RetagOwnedRules, RevokeOwnedRules};
use crate::model::{VpcEndpoint, tags_from};
use crate::plan::{Action, HandOver, RevokeRules};

/// What an action yielded that the status needs.
#[derive(Debug)]
pub(super) enum Performed {
    Created(Box<VpcEndpoint>),
    /// The requests whose rules are now in place (added now or found already there).
    Authorized(Vec<AuthorizeRules>),
    /// EC2 accepted the deletion (or the endpoint was already gone).
    Deleted(String),
    Done,
}

pub(super) async fn perform<E: Ec2>(
    ec2: &E,
    action: &Action,
    owner: &Owner,
    trail: &mut Trail<'_>,
) -> Result<Performed, Ec2Error> {
    match action {
        Action::CreateEndpoint(request) => match ec2.create_vpc_endpoint(request).await {
            Ok(receipt) => {
                trail.created(action.clone(), &receipt.value, receipt.request_id);
                Ok(Performed::Created(Box::new(receipt.value)))
            }
            Err(error) => {
                trail.failed(action.clone(), &error);
                Err(error)
            }
        },
        Action::ModifyEndpoint(request) => {
            let result = ec2.modify_vpc_endpoint(request).await;
            trail.record(action, result).map(|()| Performed::Done)
        }
        Action::AuthorizeRules(requests) => {
            for request in requests {
                authorize(ec2, request, trail).await?;
            }
            Ok(Performed::Authorized(requests.clone()))
        }
        Action::RevokeRules(batches) => {
            for batch in batches {
                revoke(ec2, batch, owner, trail).await?;
            }
            Ok(Performed::Done)
        }
        Action::HandOverRules(handovers) => {
            for h in handovers {
                hand_over(ec2, h, owner, trail).await?;
            }
            Ok(Performed::Done)
        }
        Action::TagEndpoint(t) => {
            let result = ec2
                .tag_vpc_endpoints(std::slice::from_ref(&t.vpc_endpoint_id), &t.tags)
                .await;
            trail.record(action, result).map(|()| Performed::Done)
        }
        Action::TagRules(t) => {
            let request = RetagOwnedRules {
                rule_ids: t.rule_ids.clone(),
                owner_tags: t.earlier_owner_tags.clone(),
                tags: t.tags.clone(),
            };
            let result = ec2.tag_security_group_rules(&request).await;
            trail.record(action, result).map(|()| Performed::Done)
        }
        Action::SetEndpointTags {
            vpc_endpoint_id,
            tags,
        } => {
            let result = ec2
                .tag_vpc_endpoints(std::slice::from_ref(vpc_endpoint_id), tags)
                .await;
            trail.record(action, result).map(|()| Performed::Done)
        }
        Action::RemoveEndpointTags {
            vpc_endpoint_id,
            keys,
        } => {
            let result = ec2
                .untag_vpc_endpoints(std::slice::from_ref(vpc_endpoint_id), keys)
                .await;
            trail.record(action, result).map(|()| Performed::Done)
        }
        Action::DeleteEndpoint { vpc_endpoint_id } => {
            let ids = [vpc_endpoint_id.clone()];
            let receipt = match ec2.delete_vpc_endpoints(&ids).await {
                Ok(receipt) => receipt,
                Err(error) => {
                    trail.failed(action.clone(), &error);
                    return Err(error);
                }
            };
            let mut failures = receipt.value;
            match failures.remove(vpc_endpoint_id) {
                // Already gone counts as deleted: a finalizer must be able to complete.
                Some(e) if e.kind != ErrorKind::NotFound => {
                    // EC2 answers per-item failures inside a call that has a request id.
                    let request_id = e.request_id.clone().or(receipt.request_id);
                    let error = e.with_request_id(request_id);
                    trail.failed(action.clone(), &error);
                    Err(error)
                }
                _ => {
                    trail.succeeded(action.clone(), receipt.request_id);
                    Ok(Performed::Deleted(vpc_endpoint_id.clone()))
                }
            }
        }
    }
}

/// One CreateTags call per object taking rules over, each in the trail, naming the owner whose
/// rules they must be (the adapter checks the tags' values). EC2 refuses the whole request when
/// one rule is gone (revoked by someone meanwhile): then the rules are handed over one by one,
/// so that none still there is left behind with the deleted object's tags.
async fn hand_over<E: Ec2>(
    ec2: &E,
    h: &HandOver,
    owner: &Owner,
    trail: &mut Trail<'_>,
) -> Result<(), Ec2Error> {
    let request = |rule_ids: Vec<String>| RetagOwnedRules {
        rule_ids,
        owner_tags: tags_from(owner.tags()),
        tags: h.tags.clone(),
    };
    let call = |rule_ids: Vec<String>| {
        Action::HandOverRules(vec![HandOver {
            rule_ids,
            ..h.clone()
        }])
    };
    match ec2.tag_security_group_rules(&request(h.rule_ids.clone())).await {
        Ok(receipt) => {
            trail.succeeded(call(h.rule_ids.clone()), receipt.request_id);
            return Ok(());
        }
        Err(e) if e.kind == ErrorKind::NotFound => trail.already_in_place(call(h.rule_ids.clone()), &e),
        Err(e) => {
            trail.failed(call(h.rule_ids.clone()), &e);
            return Err(e);
        }
    }
    if h.rule_ids.len() > 1 {
        for id in &h.rule_ids {
            let one = vec![id.clone()];
            match ec2.tag_security_group_rules(&request(one.clone())).await {
                Ok(receipt) => trail.succeeded(call(one), receipt.request_id),
                Err(e) if e.kind == ErrorKind::NotFound => trail.already_in_place(call(one), &e),
                Err(e) => {
                    trail.failed(call(one), &e);
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// EC2 authorizes a request atomically: one duplicate rejects the whole batch. Then each rule
/// is added alone, and a duplicate means that rule is already there.
async fn authorize<E: Ec2>(ec2: &E, request: &AuthorizeRules, trail: &mut Trail<'_>) -> Result<(), Ec2Error> {
    let call = Action::AuthorizeRules(vec![request.clone()]);
    match ec2.authorize_security_group_rules(request).await {
        Ok(receipt) => {
            trail.succeeded(call, receipt.request_id);
            Ok(())
        }
        Err(e) if e.kind == ErrorKind::Duplicate && request.rules.len() > 1 => {
            // The batch changed nothing: added rule by rule below.
            trail.already_in_place(call, &e);
            for rule in &request.rules {
                let single = AuthorizeRules {
                    rules: vec![rule.clone()],
                    ..request.clone()
                };
                let call = Action::AuthorizeRules(vec![single.clone()]);
                match ec2.authorize_security_group_rules(&single).await {
                    Ok(receipt) => trail.succeeded(call, receipt.request_id),
                    Err(e) if e.kind == ErrorKind::Duplicate => trail.already_in_place(call, &e),
                    Err(e) => {
                        trail.failed(call, &e);
                        return Err(e);
                    }
                }
            }
            Ok(())
        }
        Err(e) if e.kind == ErrorKind::Duplicate => {
            trail.already_in_place(call, &e);
            Ok(())
        }
        Err(e) => {
            trail.failed(call, &e);
            Err(e)
        }
    }
}

/// EC2 revokes atomically too: one unknown rule id fails the batch. Then each rule is revoked
/// alone, and NotFound means it is already gone. Every call names the owner whose rules they
/// must be: the adapter checks the tags' values before revoking.
async fn revoke<E: Ec2>(
    ec2: &E,
    batch: &RevokeRules,
    owner: &Owner,
    trail: &mut Trail<'_>,
) -> Result<(), Ec2Error> {
    let request = |rule_ids: Vec<String>| RevokeOwnedRules {
        group_id: batch.group_id.clone(),
        egress: batch.egress,
        rule_ids,
        owner_tags: tags_from(owner.tags()),
    };
    let call = |rule_ids: Vec<String>| {
        Action::RevokeRules(vec![RevokeRules {
            rule_ids,
            ..batch.clone()
        }])
    };
    match ec2
        .revoke_security_group_rules(&request(batch.rule_ids.clone()))
        .await
    {
        Ok(receipt) => {
            trail.succeeded(call(batch.rule_ids.clone()), receipt.request_id);
            Ok(())
        }
        Err(e) if e.kind == ErrorKind::NotFound => {
            // The batch changed nothing: revoked rule by rule below.
            trail.already_in_place(call(batch.rule_ids.clone()), &e);
            for id in &batch.rule_ids {
                let one = vec![id.clone()];
                match ec2.revoke_security_group_rules(&request(one.clone())).await {
                    Ok(receipt) => trail.succeeded(call(one), receipt.request_id),
                    Err(e) if e.kind == ErrorKind::NotFound => trail.already_in_place(call(one), &e),
                    Err(e) => {
                        trail.failed(call(one), &e);
                        return Err(e);
                    }
                }
            }
            Ok(())
        }
        Err(e) => {
            trail.failed(call(batch.rule_ids.clone()), &e);
            Err(e)
        }
    }
}
