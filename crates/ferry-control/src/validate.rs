//! Field rules shared by the resources: ngrok's size limits and PATCH conventions.

use crate::ApiError;

const DESCRIPTION_MAX: usize = 255;
const METADATA_MAX: usize = 4096;

pub fn description(v: &str) -> Result<(), ApiError> {
    at_most("description", v, DESCRIPTION_MAX)
}

pub fn metadata(v: &str) -> Result<(), ApiError> {
    at_most("metadata", v, METADATA_MAX)
}

/// Refuses a `field` longer than `max` bytes, naming both lengths: ngrok's limits are in
/// bytes, the same rule for every text field that has one.
fn at_most(field: &str, v: &str, max: usize) -> Result<(), ApiError> {
    if v.len() > max {
        return Err(ApiError::field(
            field,
            format!("{} bytes is longer than the {max} allowed", v.len()),
        ));
    }
    Ok(())
}

/// A required text field: absent, empty or blank is refused with `why` (`"is required"` and
/// perhaps an example); otherwise the value as given.
pub fn required(field: &str, v: Option<String>, why: &str) -> Result<String, ApiError> {
    let v = v.unwrap_or_default();
    if v.trim().is_empty() {
        return Err(ApiError::field(field, why));
    }
    Ok(v)
}

/// Applies an optional PATCH value: absent (or `null`) keeps the old one.
pub fn patch(slot: &mut String, new: Option<String>) {
    if let Some(v) = new {
        *slot = v;
    }
}
