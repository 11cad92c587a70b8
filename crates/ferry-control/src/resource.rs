//! One description per REST resource kept in the store, and the handlers every one of them
//! shares. A resource says its path, its list key, how a request creates or changes one, how
//! one is answered and what its schemas are; listing, reading, patching and deleting it, its
//! routes and its part of the OpenAPI document are made here from that description.

use std::future::Future;

use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::Json;
use ferry_store::Record;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::body::JsonBody;
use crate::openapi::Operation;
use crate::page::{list_body, list_query, path_id};
use crate::{ApiError, AppState};

/// Where a resource is in the API and what it is called there.
pub(crate) struct Rest {
    /// The collection's path: `/api_keys`.
    pub path: &'static str,
    /// The key of the array in a list answer: `keys`.
    pub list_key: &'static str,
    /// What a 404 calls one: `API key`.
    pub noun: &'static str,
    /// The name of its schema in the OpenAPI document: `ApiKey`.
    pub schema: &'static str,
}

impl Rest {
    /// The `GET` of the collection, answered a page at a time.
    pub fn list_operation(&self, handler: MethodRouter<AppState>) -> Operation {
        Operation::new(Method::GET, self.path, handler)
            .summary(format!("List {}", self.path))
            .paged(self.list_key, self.schema)
    }

    /// The `GET` of one, by its ID with `prefix`.
    pub fn read_operation(&self, prefix: &str, handler: MethodRouter<AppState>) -> Operation {
        Operation::new(Method::GET, &format!("{}/{{id}}", self.path), handler)
            .summary(format!("Get one of {}", self.path))
            .id(prefix)
            .answer(200, Some(Operation::schema_ref(self.schema)))
    }

    pub const fn new(
        path: &'static str,
        list_key: &'static str,
        noun: &'static str,
        schema: &'static str,
    ) -> Self {
        Self {
            path,
            list_key,
            noun,
            schema,
        }
    }
}

/// A REST resource kept in one table of the store.
pub(crate) trait Resource: Record {
    const REST: Rest;

    type Create: DeserializeOwned + Send + 'static;
    type Update: DeserializeOwned + Send + 'static;

    /// The JSON answered for one.
    fn render(s: &AppState, record: &Self) -> Value;

    /// Checks a create request, stores the new one and answers it (a secret's only showing).
    fn create(s: &AppState, c: Self::Create) -> impl Future<Output = ApiResult<Value>> + Send;

    /// Applies and checks an update request; the handler writes the result.
    fn update(
        s: &AppState,
        record: &mut Self,
        u: Self::Update,
    ) -> impl Future<Output = ApiResult<()>> + Send;

    /// What else follows an update that was written (`before` is the stored one).
    fn updated(
        _s: &AppState,
        _before: &Self,
        _after: &Self,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        async { Ok(()) }
    }

    /// What else follows a deletion.
    fn deleted(_s: &AppState, _record: &Self) -> impl Future<Output = ApiResult<()>> + Send {
        async { Ok(()) }
    }

    /// The schemas of one answer, of a create body and of an update body.
    fn schemas() -> Schemas;
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// A resource's part of the OpenAPI document.
pub(crate) struct Schemas {
    pub item: Value,
    pub create: Value,
    pub update: Value,
}

/// The resource with the ID in a request path: 400 for a malformed ID, 404 for an unknown one.
pub(crate) async fn find<R: Resource>(s: &AppState, id: &str) -> ApiResult<R> {
    let id = path_id(id, R::TABLE.prefix)?;
    s.store
        .get::<R>(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(R::REST.noun, &id))
}

async fn create<R: Resource>(
    State(s): State<AppState>,
    JsonBody(c): JsonBody<R::Create>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    Ok((StatusCode::CREATED, Json(R::create(&s, c).await?)))
}

async fn list<R: Resource>(State(s): State<AppState>, q: RawQuery) -> ApiResult<Json<Value>> {
    let q = list_query(&q, R::TABLE.prefix, &[])?;
    let listed = s.store.list::<R>(&q.page).await?;
    Ok(Json(list_body(
        &s,
        R::REST.path,
        R::REST.list_key,
        &q.page,
        listed,
        |r| r.id().to_string(),
        |r| R::render(&s, r),
    )))
}

async fn read<R: Resource>(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(R::render(&s, &find::<R>(&s, &id).await?)))
}

async fn update<R: Resource + Clone>(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(u): JsonBody<R::Update>,
) -> ApiResult<Json<Value>> {
    let after = update_one::<R>(&s, &id, u).await?;
    Ok(Json(R::render(&s, &after)))
}

/// Applies `u` to the resource with the ID `id`, writes it and carries out what follows
/// (sessions closed on a deactivation): the REST API's PATCH and the dashboard's edit forms
/// alike.
pub(crate) async fn update_one<R: Resource + Clone>(
    s: &AppState,
    id: &str,
    u: R::Update,
) -> ApiResult<R> {
    let before = find::<R>(s, id).await?;
    let mut after = before.clone();
    R::update(s, &mut after, u).await?;
    s.store.update(&after).await?;
    R::updated(s, &before, &after).await?;
    Ok(after)
}

async fn remove<R: Resource>(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    delete_one::<R>(&s, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the resource with the ID `id` and carries out what follows (sessions closed, DNS
/// withdrawn): the REST API's DELETE and the dashboard's delete buttons alike.
pub(crate) async fn delete_one<R: Resource>(s: &AppState, id: &str) -> ApiResult<()> {
    let r = find::<R>(s, id).await?;
    s.store.delete::<R>(r.id().as_str()).await?;
    R::deleted(s, &r).await
}

/// The five operations of a resource, for the router and the document alike.
fn operations<R: Resource + Clone>() -> Vec<Operation> {
    let one = format!("{}/{{id}}", R::REST.path);
    let schemas = R::schemas();
    let prefix = R::TABLE.prefix;
    vec![
        Operation::new(Method::POST, R::REST.path, post(create::<R>))
            .summary(format!("Create in {}", R::REST.path))
            .request(schemas.create)
            .answer(201, Some(Operation::schema_ref(R::REST.schema))),
        R::REST.list_operation(get(list::<R>)),
        R::REST.read_operation(prefix, get(read::<R>)),
        Operation::new(Method::PATCH, &one, patch(update::<R>))
            .summary(format!("Update one of {}", R::REST.path))
            .id(prefix)
            .request(schemas.update)
            .answer(200, Some(Operation::schema_ref(R::REST.schema))),
        Operation::new(Method::DELETE, &one, delete(remove::<R>))
            .summary(format!("Delete one of {}", R::REST.path))
            .id(prefix)
            .answer(204, None),
    ]
}

/// A resource's schema, for the document's components.
fn component<R: Resource>() -> (&'static str, Value) {
    (R::REST.schema, R::schemas().item)
}

/// A resource's part of the API, whichever resource it is: its [`operations`] and its schema,
/// so that the crate's one list of resources can hold them all.
pub(crate) struct Api {
    pub operations: fn() -> Vec<Operation>,
    pub component: fn() -> (&'static str, Value),
}

impl Api {
    pub const fn of<R: Resource + Clone>() -> Self {
        Self {
            operations: operations::<R>,
            component: component::<R>,
        }
    }
}
