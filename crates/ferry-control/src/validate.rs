//! Field rules shared by the resources: ngrok's size limits and PATCH conventions.

use crate::ApiError;

const DESCRIPTION_MAX: usize = 255;
const METADATA_MAX: usize = 4096;

pub fn description(v: &str) -> Result<(), ApiError> {
    if v.len() > DESCRIPTION_MAX {
        return Err(ApiError::field(
            "description",
            format!(
                "{} bytes is longer than the {DESCRIPTION_MAX} allowed",
                v.len()
            ),
        ));
    }
    Ok(())
}

pub fn metadata(v: &str) -> Result<(), ApiError> {
    if v.len() > METADATA_MAX {
        return Err(ApiError::field(
            "metadata",
            format!(
                "{} bytes is longer than the {METADATA_MAX} allowed",
                v.len()
            ),
        ));
    }
    Ok(())
}

/// Applies an optional PATCH value: absent (or `null`) keeps the old one.
pub fn patch(slot: &mut String, new: Option<String>) {
    if let Some(v) = new {
        *slot = v;
    }
}

/// The update body of a resource whose only changeable fields are these two.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Described {
    pub description: Option<String>,
    pub metadata: Option<String>,
}

/// A new resource's `description` and `metadata`, absent ones empty, both checked.
pub fn created(
    description: Option<String>,
    metadata: Option<String>,
) -> Result<(String, String), ApiError> {
    let (description, metadata) = (
        description.unwrap_or_default(),
        metadata.unwrap_or_default(),
    );
    self::description(&description)?;
    self::metadata(&metadata)?;
    Ok((description, metadata))
}

/// Applies a PATCH's `description` and `metadata` and checks the result.
pub fn patched(
    slots: (&mut String, &mut String),
    description: Option<String>,
    metadata: Option<String>,
) -> Result<(), ApiError> {
    patch(slots.0, description);
    patch(slots.1, metadata);
    self::description(slots.0)?;
    self::metadata(slots.1)
}
