//! What the two certificate pages share: a PEM field that takes a file or pasted text, and a
//! certificate's parsed facts (subject, names, validity, key type) as a list row shows them.
//! The facts are those the REST API parsed and stored on upload, so the page and the API
//! cannot read a certificate differently.

use maud::{html, Markup};
use serde_json::Value;

use super::FormError;
use crate::dashboard::csrf::Fields;

/// The name of the file input beside the text area `field`.
fn file_field(field: &str) -> String {
    format!("{field}_file")
}

/// The PEM a form sent for `field`: the chosen file when there is one, else the pasted text.
pub(super) fn pem_of(fields: &Fields, field: &str) -> String {
    let file = fields.get(&file_field(field));
    if file.is_empty() {
        fields.get(field)
    } else {
        file
    }
}

/// A PEM field: a file input and a text area to paste into, with the error about it beside.
pub(super) fn pem_input(
    field: &str,
    label: &str,
    placeholder: &str,
    entered: &str,
    e: Option<&FormError>,
) -> Markup {
    let file = file_field(field);
    let hint = format!("{field}-hint");
    let described = format!("{hint} {field}-error");
    html! {
        fieldset {
            legend { (label) }
            label for=(file) { "PEM file" }
            input type="file" id=(file) name=(file) accept=".pem,.crt,.cer,.key,text/plain"
                aria-describedby=(described);
            label for=(field) { "or paste it" }
            textarea id=(field) name=(field) rows="6" placeholder=(placeholder)
                aria-describedby=(described) { (entered) }
            p.hint id=(hint) { "Text from -----BEGIN to -----END; a file chosen wins over pasted text." }
            (FormError::at(e, Some(field)))
        }
    }
}

/// The parsed facts of a certificate as table cells: subject, names, validity, key type.
pub(super) fn facts(parsed: &Value) -> Markup {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let subject: Vec<String> = [
        ("CN", "subject_common_name"),
        ("O", "subject_organization"),
        ("OU", "subject_organizational_unit"),
        ("C", "subject_country"),
    ]
    .iter()
    .filter_map(|(short, key)| {
        let v = text(&parsed[*key]);
        (!v.is_empty()).then(|| format!("{short}={v}"))
    })
    .collect();
    let sans = &parsed["subject_alternative_names"];
    let names: Vec<String> = ["dns_names", "ips"]
        .iter()
        .flat_map(|k| sans[*k].as_array().cloned().unwrap_or_default())
        .map(|v| text(&v))
        .collect();
    html! {
        td data-label="Subject" { (subject.join(", ")) }
        td data-label="Names" {
            @if names.is_empty() { "none" }
            @for (i, n) in names.iter().enumerate() {
                @if i > 0 { ", " }
                code { (n) }
            }
        }
        td data-label="Valid" { (text(&parsed["not_before"])) " to " (text(&parsed["not_after"])) }
        td data-label="Key Type" { (text(&parsed["private_key_type"])) }
    }
}

/// The header cells matching [`facts`].
pub(super) fn facts_head() -> Markup {
    html! { th { "Subject" } th { "Names" } th { "Valid" } th { "Key Type" } }
}
