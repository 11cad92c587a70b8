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
