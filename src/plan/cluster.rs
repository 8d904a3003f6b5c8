//! Whose cluster a resource is: the tags everything the controller creates or takes over
//! carries, and whether a resource's cluster tag names another cluster.
//!
//! A leaf: creation ([`super::endpoint`], [`super::rules`]), adoption ([`super::adoption`]) and
//! deletion build on it, and it builds on no stage.
//!
//! With `--cluster-name`, every endpoint and rule gets [`CLUSTER_TAG`] besides the ownership
//! tags. A resource whose cluster tag names another cluster is never this controller's,
//! whatever its ownership tags say (an object restored from an etcd snapshot into a second
//! cluster keeps its UID): it is not taken over, changed or deleted. A resource without the
//! tag was made before a cluster name was set, or by a controller without one.

use std::collections::BTreeMap;

use crate::api::{CLUSTER_TAG, Owner};
use crate::model::{Tag, tags_from};

/// The tags on everything created or taken over for `owner`: both ownership tags, and the
/// cluster's when it has a name.
pub fn tags(owner: &Owner, cluster: Option<&str>) -> BTreeMap<String, String> {
    let mut tags = owner.tags();
    if let Some(name) = cluster {
        tags.insert(CLUSTER_TAG.to_string(), name.to_string());
    }
    tags
}

/// [`tags`] as EC2 tags.
pub fn ec2_tags(owner: &Owner, cluster: Option<&str>) -> Vec<Tag> {
    tags_from(tags(owner, cluster))
}

/// The cluster `tags` name, if any.
pub fn of(tags: &[Tag]) -> Option<&str> {
    tags.iter()
        .find(|t| t.key == CLUSTER_TAG)
        .map(|t| t.value.as_str())
}

/// The other cluster that `tags` name, if they name one that is not `ours` (`None`: this
/// controller has no cluster name, and then any name is another cluster's).
pub fn other<'a>(tags: &'a [Tag], ours: Option<&str>) -> Option<&'a str> {
    of(tags).filter(|theirs| Some(*theirs) != ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            namespace: "ns".into(),
            name: "logs".into(),
            uid: "u-1".into(),
        }
    }

    #[test]
    fn the_cluster_tag_is_added_only_with_a_name() {
        assert_eq!(tags(&owner(), None), owner().tags());
        let named = tags(&owner(), Some("blue"));
        assert_eq!(named.get(CLUSTER_TAG).map(String::as_str), Some("blue"));
        assert_eq!(named.len(), 3);
    }

    #[test]
    fn another_name_is_another_cluster_and_no_name_is_nobody_s() {
        let blue = ec2_tags(&owner(), Some("blue"));
        assert_eq!(other(&blue, Some("blue")), None);
        assert_eq!(other(&blue, Some("green")), Some("blue"));
        assert_eq!(
            other(&blue, None),
            Some("blue"),
            "an unnamed controller is not blue"
        );
        let unnamed = ec2_tags(&owner(), None);
        assert_eq!(other(&unnamed, Some("green")), None);
    }
}
