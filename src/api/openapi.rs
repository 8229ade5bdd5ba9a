//! The API contract: an OpenAPI 3.1 document generated from the handlers' `#[utoipa::path]`
//! annotations and the wire types' `ToSchema` derives, served at `GET /openapi.json`, with
//! Swagger UI at `GET /docs` (its assets compiled into the binary: no CDN, no download).
//!
//! `docs/openapi.json` is the committed snapshot; `tests/api/contract.rs` fails when the
//! generated document drifts from it, when a route of the router is missing from it, or when
//! it is not valid OpenAPI 3.1. Regenerate it with `cargo run -- openapi > docs/openapi.json`.
//!
//! A new route is documented by a `#[utoipa::path]` on its handler and its name in
//! [`ApiDoc`]'s `paths(...)` below.

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::AppState;
use super::error::Problem;

/// The name of the bearer security scheme operations refer to.
pub const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "citysnap",
        description = "Snap-and-report case intake, dispatch and analytics for city management \
            (随手拍). Errors are `application/problem+json` (RFC 9457) with a stable `code`. \
            Calls that need a caller take `Authorization: Bearer cs_…` (roles: resident, \
            grid_worker, handler, dispatcher, leader, planner, admin).",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::resolve::resolve_one,
        super::resolve::resolve_many,
        super::categories::list,
        super::categories::show,
        super::categories::create,
        super::categories::replace,
        super::categories::retire,
        super::plan::show,
        super::plan::replace,
        super::stats::stats,
        super::rewards::mine,
        super::rewards::export,
        super::events::stream,
        super::analytics::hexbins,
        super::analytics::hotspots::hotspots,
        super::analytics::hotspots::emerging,
        super::tiles::tile,
        super::tiles::tilejson,
        super::reports::submit,
        super::reports::show,
        super::follow_up::show,
        super::follow_up::rate,
        super::reports::upload_photo,
        super::cases::list,
        super::cases::show,
        super::cases::timeline,
        super::cases::act,
        super::cases::supervision,
        super::auth::register,
        super::auth::confirm,
        super::auth::create_token,
        super::auth::me,
        super::auth::revoke,
        super::demo::principals,
        super::demo::sign_in,
        super::photos::report_medium,
        super::photos::case_photo,
        super::ogc::landing,
        super::ogc::conformance,
        super::ogc::collections,
        super::ogc::collection,
        super::ogc::items,
        super::ogc::item,
        super::export::parquet,
        super::export::arrow,
        super::console::config,
        super::open311::discovery_json,
        super::open311::discovery_xml,
        super::open311::services_json,
        super::open311::services_xml,
        super::open311::service_definition,
        super::open311::requests::requests_json,
        super::open311::requests::requests_xml,
        super::open311::create::create_json,
        super::open311::create::create_xml,
        super::open311::requests::service_request,
        super::open311::token,
        super::open311::keys::create,
        super::open311::keys::revoke,
    ),
    components(schemas(Problem, super::events::Notice)),
    modifiers(&Security),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "resolve", description = "Which grid, community, street and district own a location"),
        (name = "reports", description = "Intake: residents, grid workers and the command centre report"),
        (name = "cases", description = "The dispatch workflow: cases, their logs, actions, live events"),
        (name = "categories", description = "The category tree residents choose from"),
        (name = "dispatch", description = "The plan library (预案库) that picks each case's target"),
        (name = "auth", description = "Residents, staff tokens and roles"),
        (name = "rewards", description = "Residents' points and cash for reports that prove real"),
        (name = "analytics", description = "Indicators, heat-maps and hotspots"),
        (name = "tiles", description = "Vector tiles (MVT, GeoJSON) and TileJSON"),
        (name = "ogc", description = "OGC API – Features, Part 1 Core: the jurisdiction and the reports for GIS tools"),
        (name = "export", description = "The reports as GeoParquet and Arrow for geopandas, DuckDB and QGIS"),
        (name = "console", description = "Settings of the web console"),
        (name = "open311", description = "Open311 GeoReport v2: the categories as services, the cases as service requests, intake for Open311 clients (JSON and XML); API keys"),
    )
)]
pub struct ApiDoc;

/// The document as served: generated from the code, OpenAPI 3.1.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// `GET /openapi.json` and the Swagger UI at `GET /docs`.
pub fn router() -> Router<AppState> {
    SwaggerUi::new("/docs")
        .url("/openapi.json", document())
        .into()
}

/// The bearer scheme (tokens `cs_…`, issued by `POST /v1/tokens`, `POST /v1/residents` or
/// `citysnap token create`), and the answers every operation can give: 500, and 401 for a
/// malformed, unknown or revoked token wherever a token is read.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("cs_ followed by 43 base64url characters")
                    .description(Some(
                        "A token of a principal; its role decides what it may do",
                    ))
                    .build(),
            ),
        );
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                // Handler names repeat across modules (`list`, `show`): prefix the tag.
                if let (Some(tag), Some(id)) =
                    (op.tags.as_ref().and_then(|t| t.first()), &op.operation_id)
                {
                    op.operation_id = Some(format!("{tag}_{id}"));
                }
                // A token is checked before anything else wherever one is sent (issue 8,
                // item 10): a malformed, unknown or revoked one is 401 on every operation.
                let reads_token = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let responses = &mut op.responses.responses;
                if !responses.contains_key("401") {
                    responses.insert(
                        "401".into(),
                        problem(if reads_token {
                            "`unauthenticated` (no token where one is needed), `invalid_token`"
                        } else {
                            "`invalid_token`: a malformed, unknown or revoked token was sent"
                        }),
                    );
                }
                responses
                    .entry("500".into())
                    .or_insert_with(|| problem("`internal`: the cause is logged, never sent"));
            }
        }
    }
}

/// A problem-document response with `description`.
pub fn problem(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "Problem",
                    ))))
                    .build(),
            )
            .build(),
    )
}
