//! [`SimProvider`]: the [`Ec2Provider`] of the simulated world.
//!
//! One world lives in one region, as a snapshot does. Asking for another region behaves as AWS
//! does when a spec names the wrong region: the client works, and that region is empty (its
//! describes find no VPC, `InvalidVpcID.NotFound`), so the engine reports a missing VPC instead
//! of touching the home world. Each other region gets one empty world on the same clock, kept
//! for the provider's lifetime so repeated calls see the same state. An empty region name is a
//! configuration error, as it is for the SDK.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::SimEc2;
use crate::aws::{Ec2Provider, ProviderError};
use crate::model::Snapshot;

/// Hands out the simulated world for its region (and empty worlds for others).
#[derive(Debug)]
pub struct SimProvider {
    home: Arc<SimEc2>,
    elsewhere: Mutex<BTreeMap<String, Arc<SimEc2>>>,
}

impl SimProvider {
    pub fn new(home: Arc<SimEc2>) -> Self {
        Self {
            home,
            elsewhere: Mutex::new(BTreeMap::new()),
        }
    }

    /// The world of the home region (what `client(None)` returns).
    pub fn world(&self) -> &Arc<SimEc2> {
        &self.home
    }

    fn for_region(&self, region: Option<&str>) -> Result<Arc<SimEc2>, ProviderError> {
        let Some(region) = region else {
            return Ok(self.home.clone());
        };
        let region = region.trim();
        if region.is_empty() {
            return Err(ProviderError(
                "no AWS region: spec.region is empty (set it, or leave it out to use the default region)"
                    .into(),
            ));
        }
        if region == self.home.region() {
            return Ok(self.home.clone());
        }
        let mut others = self.elsewhere.lock().unwrap_or_else(|p| p.into_inner());
        let world = others.entry(region.to_string()).or_insert_with(|| {
            let config = self.home.config().in_region(region);
            Arc::new(SimEc2::with_config(
                &Snapshot::default(),
                self.home.clock().clone(),
                config,
            ))
        });
        Ok(world.clone())
    }
}

impl Ec2Provider for SimProvider {
    type Client = SimEc2;

    async fn client(&self, region: Option<&str>) -> Result<Arc<SimEc2>, ProviderError> {
        self.for_region(region)
    }

    fn default_region(&self) -> Option<String> {
        Some(self.home.region())
    }
}
