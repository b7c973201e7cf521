//! `/api/v1` handlers: thin glue from HTTP to memori-rig's operator methods. Reads need any
//! signed-in operator (or API key); changes need the admin role ([`Admin`]) and, from a
//! browser session, the CSRF token.

use std::time::Instant;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use memori_rig::{EntityId, JobStatus, Memory, RecallRequest, Validity};
use memori_types::admin::{
    AuditEntry, AuditQuery, EntityDetail, EntitySummary, ErasureReceipt, GraphView, MemoryDetail, MemoryPatch,
    MemoryQuery, Overview, Page, RetentionReceipt, TranscriptMessage,
};
use memori_types::http::{
    ApiKeyInfo, CreateApiKey, CreatedApiKey, OperatorInfo, RecallPreview, RecallPreviewRequest, SaveSettings,
    SettingsVersion, SettingsView,
};
use memori_types::model::JobInfo;
use serde::Deserialize;

use super::AppState;
use super::auth::{Admin, Operator};
use super::error::{ApiError, rejection};

/// `Json` whose rejection is an [`ApiError`].
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct Json<T>(pub(crate) T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `Path` whose rejection is an [`ApiError`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct Path<T>(pub(crate) T);

/// `Query` whose rejection is an [`ApiError`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct Query<T>(pub(crate) T);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        rejection(r)
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        rejection(r)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        rejection(r)
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

fn entity_id(raw: String) -> Result<EntityId, ApiError> {
    Ok(EntityId::new(raw)?)
}

/// `GET /overview`.
pub(crate) async fn overview(State(s): State<AppState>, _op: Operator) -> ApiResult<Overview> {
    Ok(Json(s.memori.overview().await?))
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    q: Option<String>,
    #[serde(default)]
    offset: u64,
    limit: Option<u64>,
}

/// `GET /entities?q=&offset=&limit=`.
pub(crate) async fn entities(
    State(s): State<AppState>,
    _op: Operator,
    Query(q): Query<ListQuery>,
) -> ApiResult<Page<EntitySummary>> {
    Ok(Json(s.memori.list_entities(q.q.as_deref(), q.offset, q.limit.unwrap_or(50)).await?))
}

/// `GET /entities/{id}`.
pub(crate) async fn entity(
    State(s): State<AppState>,
    _op: Operator,
    Path(id): Path<String>,
) -> ApiResult<EntityDetail> {
    Ok(Json(s.memori.entity_detail(&entity_id(id)?).await?))
}

#[derive(Deserialize)]
pub(crate) struct EraseQuery {
    /// The operator's reference for the deletion request (a ticket number), kept in the audit.
    reference: Option<String>,
}

/// `DELETE /entities/{id}?reference=`: erase everything about an entity (a deletion request).
pub(crate) async fn erase_entity(
    State(s): State<AppState>,
    Admin(op): Admin,
    Path(id): Path<String>,
    Query(q): Query<EraseQuery>,
) -> ApiResult<ErasureReceipt> {
    let receipt = s.memori.erase_entity(&entity_id(id)?, &op.name, q.reference.as_deref()).await?;
    tracing::info!(target: "memori::audit", actor = %op.name, audit_id = ?receipt.audit_id, "entity erased");
    Ok(Json(receipt))
}

/// `GET /entities/{id}/export`: a JSON download of everything stored about an entity.
pub(crate) async fn export_entity(
    State(s): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let export = s.memori.export_entity(&entity_id(id)?, &op.name).await?;
    let mut res = axum::Json(export).into_response();
    res.headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"memori-export.json\""));
    Ok(res)
}

/// `GET /entities/{id}/sessions/{session}`: a transcript.
pub(crate) async fn transcript(
    State(s): State<AppState>,
    _op: Operator,
    Path((id, session)): Path<(String, String)>,
) -> ApiResult<Vec<TranscriptMessage>> {
    Ok(Json(s.memori.transcript(&entity_id(id)?, &session).await?))
}

#[derive(Deserialize)]
pub(crate) struct HistoryQuery {
    #[serde(default)]
    history: bool,
}

/// `GET /entities/{id}/graph?history=`.
pub(crate) async fn graph(
    State(s): State<AppState>,
    _op: Operator,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<GraphView> {
    let validity = if q.history { Validity::All } else { Validity::Current };
    Ok(Json(s.memori.graph_view(&entity_id(id)?, validity).await?))
}

/// `GET /entities/{id}/memories?kind=&q=&history=&newest=&offset=&limit=`: one page.
pub(crate) async fn entity_memories(
    State(s): State<AppState>,
    _op: Operator,
    Path(id): Path<String>,
    Query(q): Query<MemoryQuery>,
) -> ApiResult<Page<Memory>> {
    Ok(Json(s.memori.memory_page(&entity_id(id)?, &q).await?))
}

/// `GET /memories/{id}`.
pub(crate) async fn memory(State(s): State<AppState>, _op: Operator, Path(id): Path<i64>) -> ApiResult<MemoryDetail> {
    Ok(Json(s.memori.memory_detail(id).await?))
}

/// `PATCH /memories/{id}`.
pub(crate) async fn update_memory(
    State(s): State<AppState>,
    Admin(op): Admin,
    Path(id): Path<i64>,
    Json(patch): Json<MemoryPatch>,
) -> ApiResult<MemoryDetail> {
    s.memori.update_memory(id, patch, &op.name).await?;
    Ok(Json(s.memori.memory_detail(id).await?))
}

/// `DELETE /memories/{id}`.
pub(crate) async fn delete_memory(
    State(s): State<AppState>,
    Admin(op): Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    s.memori.delete_memory(id, &op.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /recall/preview`: rank an entity's memories for a query, with the saved settings or
/// unsaved ones, and render the block that would be injected.
pub(crate) async fn recall_preview(
    State(s): State<AppState>,
    _op: Operator,
    Json(req): Json<RecallPreviewRequest>,
) -> ApiResult<RecallPreview> {
    let entity = entity_id(req.entity)?;
    // Recall itself answers "no memories" for an unknown entity (a new user); an operator
    // previewing one has mistyped the id.
    if !s.memori.has_entity(&entity).await? {
        return Err(ApiError::not_found(format!("no entity {:?}", entity.as_str())));
    }
    let mut recall = RecallRequest::new(&req.query);
    if let Some(config) = req.config {
        recall = recall.with_config(config);
    }
    if req.history {
        recall = recall.with_history();
    }
    let started = Instant::now();
    let recollection = s.memori.recall_with(&entity, recall).await?;
    let took_ms = started.elapsed().as_secs_f64() * 1000.0;
    // The block as the hook would inject it: rendered with the settings the ranking used.
    let block = recollection.block();
    let block_tokens = block.as_deref().map_or(0, memori_rig::recall::tokens::count);
    Ok(Json(RecallPreview { results: recollection.memories, block, block_tokens, took_ms }))
}

/// `GET /settings`.
pub(crate) async fn settings(State(s): State<AppState>, _op: Operator) -> ApiResult<SettingsView> {
    let (version, settings) = s.memori.settings().await?;
    Ok(Json(SettingsView {
        version,
        settings,
        extractor: s.memori.extractor_id().to_owned(),
        embedder: s.memori.embedder().model_id().to_owned(),
    }))
}

/// `PUT /settings`.
pub(crate) async fn save_settings(
    State(s): State<AppState>,
    Admin(op): Admin,
    Json(req): Json<SaveSettings>,
) -> ApiResult<SettingsView> {
    s.memori.save_settings(req.base, &req.settings, &op.name).await?;
    settings(State(s), op).await
}

/// `GET /settings/history`.
pub(crate) async fn settings_history(State(s): State<AppState>, _op: Operator) -> ApiResult<Vec<SettingsVersion>> {
    Ok(Json(s.memori.settings_history(100).await?))
}

/// `POST /retention/apply`: apply the saved retention policy now.
pub(crate) async fn apply_retention(State(s): State<AppState>, Admin(op): Admin) -> ApiResult<RetentionReceipt> {
    Ok(Json(s.memori.apply_retention(&op.name).await?))
}

/// `GET /audit?before=&limit=&action=&actor=`.
pub(crate) async fn audit(
    State(s): State<AppState>,
    _op: Operator,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Vec<AuditEntry>> {
    Ok(Json(s.memori.audit_log(&q).await?))
}

#[derive(Deserialize)]
pub(crate) struct JobsQuery {
    status: Option<JobStatus>,
}

/// `GET /jobs?status=`.
pub(crate) async fn jobs(
    State(s): State<AppState>,
    _op: Operator,
    Query(q): Query<JobsQuery>,
) -> ApiResult<Vec<JobInfo>> {
    Ok(Json(s.memori.jobs(q.status, 200).await?))
}

/// `POST /jobs/{id}/retry`.
pub(crate) async fn retry_job(
    State(s): State<AppState>,
    Admin(_op): Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if s.memori.retry_job(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such job, or it is running"))
    }
}

/// `POST /jobs/retry-dead`.
pub(crate) async fn retry_dead(State(s): State<AppState>, Admin(_op): Admin) -> ApiResult<serde_json::Value> {
    Ok(Json(serde_json::json!({ "revived": s.memori.retry_dead_jobs().await? })))
}

fn key_info(k: memori_rig::accounts::ApiKeyRecord) -> ApiKeyInfo {
    ApiKeyInfo {
        id: k.id,
        name: k.name,
        prefix: k.prefix,
        role: k.role,
        created_by: k.created_by,
        created_at: k.created_at,
        last_used_at: k.last_used_at,
        revoked_at: k.revoked_at,
        expires_at: k.expires_at,
    }
}

/// `GET /api-keys`.
pub(crate) async fn api_keys(State(s): State<AppState>, Admin(_op): Admin) -> ApiResult<Vec<ApiKeyInfo>> {
    Ok(Json(s.memori.accounts().api_keys().await?.into_iter().map(key_info).collect()))
}

/// `POST /api-keys`: the response carries the token, shown this once.
pub(crate) async fn create_api_key(
    State(s): State<AppState>,
    Admin(op): Admin,
    Json(req): Json<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    signed_in_human(&op)?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid("a key name must be 1 to 64 characters"));
    }
    // Every key dies on its own: a forgotten or leaked key does not work forever.
    let days = req.expires_in_days.unwrap_or(90);
    if !(1..=365).contains(&days) {
        return Err(ApiError::invalid("a key lives 1 to 365 days (expires_in_days)"));
    }
    let expires_at = chrono::Utc::now() + chrono::Duration::days(i64::from(days));
    let (prefix, token, hash) = super::auth::new_api_key();
    let accounts = s.memori.accounts();
    accounts.create_api_key(name, &prefix, &hash, req.role, expires_at, &op.name).await?;
    let key = accounts.api_key(&prefix).await?.ok_or_else(|| ApiError::internal("the new key was not stored"))?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { key: key_info(key), token })))
}

/// Keys are minted and revoked by a signed-in admin only: a leaked admin key must not be able
/// to mint keys that outlive its own revocation (or revoke the keys of others).
fn signed_in_human(op: &Operator) -> Result<(), ApiError> {
    if op.by_key {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "API keys cannot create or revoke API keys; sign in as an admin",
        ));
    }
    Ok(())
}

/// `DELETE /api-keys/{id}`.
pub(crate) async fn revoke_api_key(
    State(s): State<AppState>,
    Admin(op): Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    signed_in_human(&op)?;
    s.memori.accounts().revoke_api_key(id, &op.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /operators`.
pub(crate) async fn operators(State(s): State<AppState>, _op: Operator) -> ApiResult<Vec<OperatorInfo>> {
    Ok(Json(
        s.memori
            .accounts()
            .operators()
            .await?
            .into_iter()
            .map(|o| OperatorInfo { role: o.role, name: o.name, created_at: o.created_at })
            .collect(),
    ))
}

/// `GET /openapi.json`: this API, described.
pub(crate) async fn openapi(_op: Operator) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("../../openapi.json")).into_response()
}
