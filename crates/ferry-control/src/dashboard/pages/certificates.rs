//! The two certificate pages (Certificate Authorities, TLS Certificates), one page in two
//! kinds: a list of the uploads with each one's parsed facts (subject, names, validity, key
//! type), a Delete button a row, and an upload form whose PEM fields take a file or pasted
//! text. The facts are those the REST API parsed and stored on upload, and the upload runs
//! the REST create's own code, so the page and the API cannot read a certificate
//! differently.

use axum::extract::State;
use axum::response::Response;
use ferry_store::Listed;
use maud::{html, Markup};
use serde_json::{json, Value};

use super::form::{row_button, Field};
use super::listed::{create as create_one, older, refused, OnDashboard, WithForm};
use super::{csrf_field, see, FormError};
use crate::dashboard::csrf::{Fields, Posted};
use crate::dashboard::session::Signed;
use crate::described::Described;
use crate::AppState;

/// A kind of uploaded certificate.
pub(crate) trait Uploaded: OnDashboard + Described {
    /// What the list says when there is none.
    const NONE: &'static str;
    /// The upload form's heading and its button.
    const UPLOAD: (&'static str, &'static str);
    /// The PEM fields of the REST body (name, label, placeholder); what the first held is
    /// shown again beside an error (a pasted key never is).
    const PEMS: &'static [(&'static str, &'static str, &'static str)];

    /// The facts the REST API parsed on upload.
    fn parsed(&self) -> &Value;

    /// What the ID cell shows after the ID.
    fn note(&self) -> Markup {
        html! {}
    }
}

/// The list and the upload form; what the form held is the description and the first PEM.
impl<R: Uploaded> WithForm for R {
    type Entered = (String, String);

    fn view(
        _s: &AppState,
        signed: &Signed,
        listed: &Listed<Self>,
        entered: &(String, String),
        e: Option<&FormError>,
    ) -> Markup {
        html! {
            h1 { (R::NAV) }
            @if listed.items.is_empty() {
                p { (R::NONE) }
            } @else {
                table {
                    thead { tr { th { "ID" } th { "Description" } (facts_head()) th { span.hint { "Actions" } } } }
                    tbody {
                        @for c in &listed.items {
                            tr {
                                td data-label="ID" { code { (c.id()) } (c.note()) }
                                td data-label="Description" { (c.texts().0) }
                                (facts(c.parsed()))
                                td { (row_button(&signed.csrf, &format!("{}/{}/delete", R::PATH, c.id()), "Delete", c.id().as_str())) }
                            }
                        }
                    }
                }
            }
            (older(listed))
            h2 { (R::UPLOAD.0) }
            form.stack method="post" action=(R::PATH) enctype="multipart/form-data" {
                (csrf_field(&signed.csrf))
                (FormError::at(e, None))
                (Field::new("description", "Description", &entered.0).show(e))
                @for (i, (field, label, placeholder)) in R::PEMS.iter().enumerate() {
                    (pem_input(field, label, placeholder, if i == 0 { &entered.1 } else { "" }, e))
                }
                div { button type="submit" { (R::UPLOAD.1) } }
            }
        }
    }
}

/// Uploads one as the REST create does.
pub(crate) async fn create<R: Uploaded>(State(s): State<AppState>, posted: Posted) -> Response {
    let description = posted.fields.get("description");
    let pems: Vec<String> = R::PEMS
        .iter()
        .map(|(field, _, _)| pem_of(&posted.fields, field))
        .collect();
    let mut fields = json!({ "description": description });
    for ((field, _, _), pem) in R::PEMS.iter().zip(&pems) {
        fields[*field] = json!(pem);
    }
    match create_one::<R>(&s, fields).await {
        Ok(_) => see(R::PATH),
        Err(e) => {
            let first = pems.into_iter().next().unwrap_or_default();
            refused::<R>(&s, &posted.signed, e, &(description, first)).await
        }
    }
}

/// The name of the file input beside the text area `field`.
fn file_field(field: &str) -> String {
    format!("{field}_file")
}

/// The PEM a form sent for `field`: the chosen file when there is one, else the pasted text.
fn pem_of(fields: &Fields, field: &str) -> String {
    let file = fields.get(&file_field(field));
    if file.is_empty() {
        fields.get(field)
    } else {
        file
    }
}

/// A PEM field: a file input and a text area to paste into, with the error about it beside.
fn pem_input(
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
fn facts(parsed: &Value) -> Markup {
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
fn facts_head() -> Markup {
    html! { th { "Subject" } th { "Names" } th { "Valid" } th { "Key Type" } }
}
