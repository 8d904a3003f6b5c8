//! Performing one [`Action`] through the EC2 port, with EC2's idempotency quirks absorbed:
//! a duplicate rule is already there, a missing rule or endpoint is already gone.

use crate::api::Owner;
use crate::aws::{AuthorizeRules, Ec2, Ec2Error, ErrorKind, RevokeOwnedRules};
use crate::model::{VpcEndpoint, tags_from};
use crate::plan::Action;

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

pub(super) async fn perform<E: Ec2>(ec2: &E, action: &Action, owner: &Owner) -> Result<Performed, Ec2Error> {
    match action {
        Action::CreateEndpoint(request) => ec2
            .create_vpc_endpoint(request)
            .await
            .map(|e| Performed::Created(Box::new(e.value))),
        Action::ModifyEndpoint(request) => ec2.modify_vpc_endpoint(request).await.map(|_| Performed::Done),
        Action::AuthorizeRules(requests) => {
            for request in requests {
                authorize(ec2, request).await?;
            }
            Ok(Performed::Authorized(requests.clone()))
        }
        Action::RevokeRules(batches) => {
            for batch in batches {
                let request = RevokeOwnedRules {
                    group_id: batch.group_id.clone(),
                    egress: batch.egress,
                    rule_ids: batch.rule_ids.clone(),
                    owner_tags: tags_from(owner.tags()),
                };
                revoke(ec2, &request).await?;
            }
            Ok(Performed::Done)
        }
        Action::DeleteEndpoint { vpc_endpoint_id } => {
            let ids = [vpc_endpoint_id.clone()];
            let mut failures = ec2.delete_vpc_endpoints(&ids).await?.value;
            match failures.remove(vpc_endpoint_id) {
                // Already gone counts as deleted: a finalizer must be able to complete.
                Some(e) if e.kind != ErrorKind::NotFound => Err(e),
                _ => Ok(Performed::Deleted(vpc_endpoint_id.clone())),
            }
        }
    }
}

/// EC2 authorizes a request atomically: one duplicate rejects the whole batch. Then each rule
/// is added alone, and a duplicate means that rule is already there.
async fn authorize<E: Ec2>(ec2: &E, request: &AuthorizeRules) -> Result<(), Ec2Error> {
    match ec2.authorize_security_group_rules(request).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind == ErrorKind::Duplicate && request.rules.len() > 1 => {
            for rule in &request.rules {
                let single = AuthorizeRules {
                    rules: vec![rule.clone()],
                    ..request.clone()
                };
                match ec2.authorize_security_group_rules(&single).await {
                    Ok(_) => {}
                    Err(e) if e.kind == ErrorKind::Duplicate => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
        Err(e) if e.kind == ErrorKind::Duplicate => Ok(()),
        Err(e) => Err(e),
    }
}

/// EC2 revokes atomically too: one unknown rule id fails the batch. Then each rule is revoked
/// alone, and NotFound means it is already gone.
async fn revoke<E: Ec2>(ec2: &E, request: &RevokeOwnedRules) -> Result<(), Ec2Error> {
    match ec2.revoke_security_group_rules(request).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind == ErrorKind::NotFound => {
            for id in &request.rule_ids {
                let single = RevokeOwnedRules {
                    rule_ids: vec![id.clone()],
                    ..request.clone()
                };
                match ec2.revoke_security_group_rules(&single).await {
                    Ok(_) => {}
                    Err(e) if e.kind == ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}
