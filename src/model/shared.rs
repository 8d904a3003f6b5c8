//! A list that copies of a [`super::Snapshot`] share until one of them changes it.
//!
//! A pass after an object's own change patches the VPC's shared snapshot with what the change
//! touched (`aws::observation::look_at_change`): its endpoints, the rules of a few groups. That
//! copy of the snapshot shares the lists it does not change (the network interfaces above all:
//! most of a large VPC's snapshot) instead of copying them, so that concurrent passes after
//! their own changes in a 20,000-ENI VPC do not each hold a copy of the whole VPC.
//!
//! Reading is the `Vec`'s (by [`Deref`]); changing it ([`DerefMut`]) copies the list first if
//! another snapshot shares it. It serializes as the list it holds.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A `Vec<T>` shared by the snapshots cloned from one another until one changes it.
#[derive(PartialEq, Eq)]
pub struct Shared<T>(Arc<Vec<T>>);

impl<T> Shared<T> {
    /// Whether `self` and `other` are the same list, not copies (what a clone shares).
    pub fn is_shared_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Self(Arc::new(Vec::new()))
    }
}

impl<T> Deref for Shared<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T: Clone> DerefMut for Shared<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        Arc::make_mut(&mut self.0)
    }
}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T> From<Vec<T>> for Shared<T> {
    fn from(list: Vec<T>) -> Self {
        Self(Arc::new(list))
    }
}

impl<T> FromIterator<T> for Shared<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        Self::from(items.into_iter().collect::<Vec<T>>())
    }
}

impl<'a, T> IntoIterator for &'a Shared<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Changing the items copies the list first if another snapshot shares it.
impl<'a, T: Clone> IntoIterator for &'a mut Shared<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        Arc::make_mut(&mut self.0).iter_mut()
    }
}

/// The items, moved out when no other snapshot shares them, copied otherwise.
impl<T: Clone> IntoIterator for Shared<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        Arc::unwrap_or_clone(self.0).into_iter()
    }
}

impl<T: PartialEq> PartialEq<Vec<T>> for Shared<T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        *self.0 == *other
    }
}

impl<T: Serialize> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.as_slice().serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_shares_the_list_until_one_of_them_changes_it() {
        let a: Shared<String> = vec!["a".to_string(), "b".to_string()].into();
        let mut b = a.clone();
        assert!(a.is_shared_with(&b));
        assert_eq!(b.len(), 2);
        assert_eq!(b.iter().map(String::as_str).collect::<Vec<_>>(), ["a", "b"]);
        b.push("c".into());
        assert!(!a.is_shared_with(&b));
        assert_eq!(a, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(b, vec!["a".to_string(), "b".to_string(), "c".to_string()]);
        // Alone, a change copies nothing.
        let before = b.as_ptr();
        b.retain(|s| s != "a");
        assert_eq!(b.as_ptr(), before);
        assert_eq!(b.into_iter().collect::<Vec<_>>(), ["b", "c"]);
    }

    #[test]
    fn it_serializes_as_the_list_it_holds() {
        let a: Shared<u32> = vec![1, 2, 3].into();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "[1,2,3]");
        let back: Shared<u32> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        assert_eq!(format!("{a:?}"), "[1, 2, 3]");
    }
}
