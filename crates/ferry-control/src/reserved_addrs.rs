//! `/reserved_addrs`: TCP addresses on the edge's port range. Outside dev mode a TCP endpoint
//! that asks for an address gets it only when it is reserved here.

use ferry_api::requests::{DescribedUpdate, ReservedAddrCreate as Create};
use ferry_store::{NewReservedAddr, ReservedAddr};
use ferry_types::ErrorCode;
use rand::Rng;
use serde_json::{json, Value};

use crate::described;
use crate::openapi::{null_obj, s};
use crate::resource::{ApiResult, Resource, Rest, Schemas};
use crate::{ApiError, AppState};

const REGIONS: &[&str] = &["us", "eu", "au", "ap", "jp", "in", "sa"];

/// A port of the TCP range that no reservation holds, tried from a random start.
async fn free_addr(s: &AppState) -> Result<String, ApiError> {
    let taken = s.store.reserved_addr_list().await?;
    let (lo, hi) = s.config.tcp_ports;
    let span = u32::from(hi - lo) + 1;
    let start = rand::thread_rng().gen_range(0..span);
    for i in 0..span {
        let port = lo + ((start + i) % span) as u16;
        let addr = format!("{}:{port}", s.config.tcp_public_host);
        if !taken.contains(&addr) {
            return Ok(addr);
        }
    }
    Err(ApiError::new(
        ErrorCode::AlreadyExists,
        format!("every port of this edge's TCP range {lo}-{hi} is reserved"),
    ))
}

impl Resource for ReservedAddr {
    const REST: Rest = Rest::new(
        "/reserved_addrs",
        "reserved_addrs",
        "reserved address",
        "ReservedAddr",
    );
    type Create = Create;
    type Update = DescribedUpdate;

    fn render(s: &AppState, a: &Self) -> Value {
        let fields = json!({
            "addr": a.addr,
            "region": a.region,
            "endpoint_configuration": null,
        });
        described::item(s, a, fields)
    }

    async fn create(s: &AppState, c: Create) -> ApiResult<Value> {
        let region = c
            .region
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "us".into());
        if !REGIONS.contains(&region.as_str()) {
            return Err(ApiError::field(
                "region",
                format!("{region:?} is not one of {}", REGIONS.join(", ")),
            ));
        }
        let addr = free_addr(s).await?;
        let (description, metadata) = described::created(c.description, c.metadata)?;
        let new = NewReservedAddr {
            description,
            metadata,
            addr,
            region,
        };
        Ok(Self::render(s, &s.store.create::<ReservedAddr>(new).await?))
    }

    async fn update(_s: &AppState, a: &mut Self, u: DescribedUpdate) -> ApiResult<()> {
        if u.description.is_none() && u.metadata.is_none() {
            return Err(ApiError::new(
                ErrorCode::UpdateEmpty,
                "the update names no field to change",
            ));
        }
        described::patch(a, u.description, u.metadata)
    }

    fn schemas() -> Schemas {
        Schemas {
            item: described::schema(&[
                ("addr", s()),
                ("region", s()),
                ("endpoint_configuration", null_obj()),
            ]),
            create: described::input(&[("region", s())], &[]),
            update: described::input(&[], &[]),
        }
    }
}
