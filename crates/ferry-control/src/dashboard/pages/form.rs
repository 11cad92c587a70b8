//! The parts every form is built of: a field with its label, hint and the error beside it,
//! and the buttons that post (a row's Delete, Revoke or Deactivate; a panel's Check Status
//! or Delete). Each field's `id`, `name` and `aria-describedby` follow from its name, so the
//! label, the hint and the error cannot point at another field.

use maud::{html, Markup};

use super::{csrf_field, FormError};

/// A labelled text field; `name` is the REST body's field it fills, so an error naming that
/// field is shown beside it.
pub(crate) struct Field<'a> {
    name: &'a str,
    label: &'a str,
    value: &'a str,
    required: bool,
    placeholder: Option<&'a str>,
    hint: Option<&'a str>,
    /// A text area of this many rows, for one entry a line.
    rows: Option<u8>,
}

impl<'a> Field<'a> {
    /// A one-line field holding `value`.
    pub(crate) fn new(name: &'a str, label: &'a str, value: &'a str) -> Self {
        Self {
            name,
            label,
            value,
            required: false,
            placeholder: None,
            hint: None,
            rows: None,
        }
    }

    pub(crate) fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub(crate) fn placeholder(mut self, placeholder: &'a str) -> Self {
        self.placeholder = Some(placeholder);
        self
    }

    /// Words under the field, read out with it.
    pub(crate) fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }

    pub(crate) fn rows(mut self, rows: u8) -> Self {
        self.rows = Some(rows);
        self
    }

    /// The field, with `e` beside it when the error names it.
    pub(crate) fn show(&self, e: Option<&FormError>) -> Markup {
        let name = self.name;
        let hint_id = format!("{name}-hint");
        let described = match self.hint {
            Some(_) => format!("{hint_id} {name}-error"),
            None => format!("{name}-error"),
        };
        html! {
            div {
                label for=(name) { (self.label) }
                @if let Some(rows) = self.rows {
                    textarea id=(name) name=(name) rows=(rows) placeholder=[self.placeholder]
                        aria-describedby=(described) { (self.value) }
                } @else {
                    input id=(name) name=(name) value=(self.value) required[self.required]
                        placeholder=[self.placeholder] aria-describedby=(described);
                }
                @if let Some(hint) = self.hint { p.hint id=(hint_id) { (hint) } }
                (FormError::at(e, Some(name)))
            }
        }
    }
}

/// A list row's button posting to `action`; its accessible name adds the row's `id`, so a
/// screen reader tells the rows' buttons apart.
pub(crate) fn row_button(csrf: &str, action: &str, verb: &str, id: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(csrf))
            button.danger type="submit" aria-label={ (verb) " " (id) } { (verb) }
        }
    }
}

/// A panel's button posting to `action`; `danger` for one that deletes.
pub(crate) fn panel_button(csrf: &str, action: &str, text: &str, danger: bool) -> Markup {
    html! {
        form method="post" action=(action) {
            (csrf_field(csrf))
            @if danger {
                button.danger type="submit" { (text) }
            } @else {
                button type="submit" { (text) }
            }
        }
    }
}
