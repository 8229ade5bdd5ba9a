//! The API contract (issue 9): the OpenAPI document the service generates is the committed
//! snapshot `docs/openapi.json`, is served at `GET /openapi.json` with Swagger UI at
//! `GET /docs`, and documents every route the router serves with the methods it serves.
//! (`scripts/check_contract.py` validates it as OpenAPI 3.1 and runs schemathesis against
//! a demo server.)

use std::collections::{BTreeMap, BTreeSet};

use citysnap::api::openapi;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp};

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
const REGENERATE: &str = "cargo run -- openapi > docs/openapi.json";

fn generated() -> Value {
    serde_json::to_value(openapi::document()).expect("the document serialises")
}

#[test]
fn the_generated_document_is_the_committed_snapshot() {
    let committed = std::fs::read_to_string(SNAPSHOT)
        .unwrap_or_else(|e| panic!("{SNAPSHOT}: {e}; create it with `{REGENERATE}`"));
    let committed: Value = serde_json::from_str(&committed).expect("docs/openapi.json is JSON");
    let generated = generated();
    if committed != generated {
        let (c, g) = (&committed["paths"], &generated["paths"]);
        let differing: Vec<&String> = c
            .as_object()
            .into_iter()
            .chain(g.as_object())
            .flat_map(|m| m.keys())
            .filter(|p| c.get(*p) != g.get(*p))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        panic!(
            "the API contract changed (paths differing: {differing:?}; components may too). \
             If the change is meant, regenerate the snapshot with `{REGENERATE}` and commit it."
        );
    }
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_1_with_bearer_security() {
    let doc = generated();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .expect("a schema reference");
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{r} points nowhere"
        );
    }
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // Every operation declares its answers, an error status among them, and every
    // operation that reads a token declares 401.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses
                    .keys()
                    .any(|s| s.starts_with('2') || s.starts_with('3')),
                "{method} {path} declares no success"
            );
            assert!(responses.contains_key("500"), "{method} {path}: no 500");
            let reads_token = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            if reads_token {
                assert!(responses.contains_key("401"), "{method} {path}: no 401");
            }
        }
    }
}

/// The route templates an axum router holds, from its `Debug` output (axum offers no
/// other way to list them; `Node { paths: {RouteId(n): "/path", …} }`).
fn router_paths(router: &axum::Router) -> BTreeSet<String> {
    let debug = format!("{router:?}");
    let served = debug
        .split("fallback_router")
        .next()
        .expect("a router prints its path router first");
    let mut paths = BTreeSet::new();
    for part in served.split("RouteId(").skip(1) {
        if let Some(rest) = part.split_once("): \"").map(|(_, r)| r)
            && let Some((path, _)) = rest.split_once('"')
        {
            paths.insert(path.to_owned());
        }
    }
    paths
}

/// Routes that are not API operations: the contract itself (the document, Swagger UI) and
/// the web console's static files.
fn is_contract_route(path: &str) -> bool {
    path == "/openapi.json"
        || path == "/docs"
        || path.starts_with("/docs/")
        || path == "/"
        || path.starts_with("/assets/")
}

/// A route template as OpenAPI writes it: axum's wildcard `{*key}` is the parameter `{key}`.
fn as_openapi(path: &str) -> String {
    path.replace("{*", "{")
}

crate::both_backends!(
    every_route_is_documented_with_its_methods,
    |backend: Backend| async move {
        let app = TestApp::spawn(backend, &[]).await;
        let router = citysnap::api::router(app.state.clone());
        let served: BTreeSet<String> = router_paths(&router)
            .into_iter()
            .filter(|p| !is_contract_route(p))
            .map(|p| as_openapi(&p))
            .collect();
        assert!(
            served.len() > 20,
            "the router's routes were not read: {served:?}"
        );

        let doc = generated();
        let documented: BTreeMap<String, BTreeSet<String>> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .map(|(p, item)| {
                let methods = item
                    .as_object()
                    .expect("path item")
                    .keys()
                    .map(|m| m.to_uppercase())
                    .collect();
                (p.clone(), methods)
            })
            .collect();
        let undocumented: Vec<&String> = served
            .iter()
            .filter(|p| !documented.contains_key(*p))
            .collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from the OpenAPI document: {undocumented:?} (see src/api/openapi.rs)"
        );
        let unserved: Vec<&String> = documented.keys().filter(|p| !served.contains(*p)).collect();
        assert!(
            unserved.is_empty(),
            "documented paths nobody serves: {unserved:?}"
        );

        // The methods each route serves: a method it does not serve answers 405 with `Allow`.
        for (path, methods) in &documented {
            let url = format!("{}{}", app.base, fill_params(path));
            let response = app
                .client
                .request(reqwest::Method::PATCH, &url)
                .send()
                .await
                .expect("request");
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "PATCH {path}"
            );
            let allowed: BTreeSet<String> = response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .split(',')
                .map(|m| m.trim().to_owned())
                // axum answers HEAD wherever it answers GET.
                .filter(|m| !m.is_empty() && m != "HEAD")
                .collect();
            assert_eq!(&allowed, methods, "methods served at {path} vs documented");
        }
    }
);

/// A concrete path for a route template: every `{param}` replaced by a plausible value.
fn fill_params(template: &str) -> String {
    template
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                "1"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

crate::both_backends!(
    the_document_and_its_browser_are_served,
    |backend: Backend| async move {
        let app = TestApp::spawn(backend, &[]).await;
        let served: Value = app
            .client
            .get(format!("{}/openapi.json", app.base))
            .send()
            .await
            .expect("openapi.json")
            .json()
            .await
            .expect("JSON");
        assert_eq!(served, generated());

        let page = app
            .client
            .get(format!("{}/docs/", app.base))
            .send()
            .await
            .expect("docs");
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("html");
        assert!(html.contains("swagger-ui"), "{html}");
        // The page's script and styles come from this server, not a CDN.
        for asset in ["swagger-ui-bundle.js", "swagger-ui.css"] {
            assert!(
                html.contains(&format!("./{asset}")),
                "{asset} is not served locally"
            );
            let r = app
                .client
                .get(format!("{}/docs/{asset}", app.base))
                .send()
                .await
                .expect("asset");
            assert_eq!(r.status(), StatusCode::OK, "{asset}");
            assert!(
                r.bytes().await.expect("bytes").len() > 1000,
                "{asset} is empty"
            );
        }
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
    }
);

#[test]
fn every_problem_kind_fits_the_problem_schema() {
    use citysnap::api::ApiError;
    use citysnap::domain::spatial::units::{UnitKind, UnitLevel, UnitRef};
    let doc = generated();
    let schema = &doc["components"]["schemas"]["Problem"];
    let properties = schema["properties"].as_object().expect("properties");
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for error in [
        ApiError::InvalidQuery("x".into()),
        ApiError::OutOfArea {
            service_area: "兴隆台区".into(),
            nearest_unit: UnitRef {
                kind: UnitKind::Unit,
                code: "211103".into(),
                name: "兴隆台区".into(),
                level: UnitLevel::District,
            },
            distance_m: 1234.56,
            distance_km: 1.23456,
        },
        ApiError::IllegalTransition {
            state: "closed".into(),
            action: "verify".into(),
        },
    ] {
        let body = serde_json::to_value(error.problem()).expect("problem");
        let members = body.as_object().expect("object");
        for name in members.keys() {
            assert!(properties.contains_key(name), "{name} is not in the schema");
        }
        for name in &required {
            assert!(members.contains_key(*name), "{name} is missing from {body}");
        }
        assert_eq!(body["code"], error.code());
    }
}
