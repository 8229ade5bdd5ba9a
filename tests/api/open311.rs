//! Open311 GeoReport v2 under `/open311/v2` (issue 12): discovery, the categories as
//! services, requests posted with an API key becoming real cases, the cases as service
//! requests (coarse and impersonal for the public), filters, the spec's error shape, and XML
//! that says what the JSON says. A real client (the `georeport` package) and the GeoReport
//! v2 JSON schemas check the same endpoints in `scripts/check_open311.py`.

use std::collections::BTreeMap;

use quick_xml::events::Event;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::*;
use crate::workflow::{COMMUNITY, POINT, small_deployment};

/// Jining, Shandong: far outside 兴隆台区.
const FAR: (f64, f64) = (116.587, 35.415);

async fn api_key(app: &TestApp) -> String {
    citysnap::api::open311::keys::issue_api_key(app.store.as_ref(), "测试客户端")
        .await
        .expect("issue key")
        .1
}

/// A form of `POST requests`.
fn form<'a>(key: &'a str, at: (f64, f64), description: &'a str) -> Vec<(&'a str, String)> {
    vec![
        ("api_key", key.to_owned()),
        ("service_code", "0101".into()),
        ("lat", at.1.to_string()),
        ("long", at.0.to_string()),
        ("description", description.to_owned()),
        ("address_string", "兴隆台街道某小区3号楼".into()),
        ("first_name", "先生".into()),
        ("last_name", "李".into()),
        ("phone", "13912345678".into()),
        ("email", "li@example.org".into()),
    ]
}

async fn post_form(
    app: &TestApp,
    path: &str,
    form: &[(&str, String)],
    idempotency_key: Option<&str>,
) -> (u16, String, reqwest::header::HeaderMap) {
    let mut r = app.client.post(app.url(path)).form(form);
    if let Some(k) = idempotency_key {
        r = r.header("idempotency-key", k);
    }
    let r = r.send().await.expect("POST");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.text().await.expect("body"), headers)
}

async fn get_text(app: &TestApp, path: &str, token: Option<&str>) -> (u16, String, String) {
    let mut r = app.client.get(app.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.expect("GET");
    let status = r.status().as_u16();
    let media = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, media, r.text().await.expect("body"))
}

async fn get_json(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    let (status, media, body) = get_text(app, path, token).await;
    assert!(media.starts_with("application/json"), "{path}: {media}");
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")),
    )
}

/// Posts a request and answers its id.
async fn posted(app: &TestApp, key: &str, at: (f64, f64), description: &str) -> String {
    let (status, body, _) = post_form(
        app,
        "/open311/v2/requests.json",
        &form(key, at, description),
        None,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    body[0]["service_request_id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// The spec's error: one `{code, description}` with the HTTP status as its code.
fn assert_open311_error(status: u16, body: &str, expected: u16, says: &str) {
    assert_eq!(status, expected, "{body}");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let errors = v.as_array().expect("a list of errors");
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["code"], expected, "{body}");
    let description = errors[0]["description"].as_str().expect("description");
    assert!(description.contains(says), "{description:?} lacks {says:?}");
    assert_eq!(errors[0].as_object().unwrap().len(), 2, "{body}");
}

/// An XML document as `(path of the element, text)` pairs in document order, with list
/// items indexed like JSON: `service_requests/request/status` of the second request is
/// `1/status`. Also checks that the document is well-formed.
fn xml_leaves(xml: &str) -> (String, Vec<(String, String)>) {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut counts: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new()];
    let mut root = String::new();
    let mut out = Vec::new();
    let mut text = String::new();
    let path = |stack: &[(String, usize)]| {
        stack[1..]
            .iter()
            .map(|(name, i)| format!("{name}#{i}"))
            .collect::<Vec<_>>()
            .join("/")
    };
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                let name = e.name().as_ref().to_owned();
                if stack.is_empty() {
                    root = name.clone();
                }
                let n = counts.last_mut().unwrap().entry(name.clone()).or_insert(0);
                stack.push((name, *n));
                *n += 1;
                counts.push(BTreeMap::new());
                text.clear();
            }
            Event::Empty(e) => {
                let name = e.name().as_ref().to_owned();
                let n = counts.last_mut().unwrap().entry(name.clone()).or_insert(0);
                stack.push((name, *n));
                *n += 1;
                out.push((path(&stack), String::new()));
                stack.pop();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let entity: &str = r.as_ref();
                text.push_str(match entity {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("entity {other}"),
                });
            }
            Event::End(_) => {
                let children = counts.pop().unwrap();
                if children.is_empty() {
                    out.push((path(&stack), std::mem::take(&mut text)));
                }
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (root, out)
}

/// The same pairs from the JSON of the document, items named `item` in XML.
fn json_leaves(v: &Value, item: &str) -> Vec<(String, String)> {
    fn walk(v: &Value, path: String, name: &str, out: &mut Vec<(String, String)>) {
        let join = |p: &str, seg: String| {
            if p.is_empty() {
                seg
            } else {
                format!("{p}/{seg}")
            }
        };
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    walk(v, join(&path, format!("{k}#0")), k, out);
                }
            }
            // An empty list is an empty element, as an empty string is.
            Value::Array(items) if items.is_empty() => out.push((path, String::new())),
            Value::Array(items) => {
                let singular = match name {
                    "attributes" => "attribute",
                    "endpoints" => "endpoint",
                    "formats" => "format",
                    other => other,
                };
                for (i, v) in items.iter().enumerate() {
                    walk(v, join(&path, format!("{singular}#{i}")), singular, out);
                }
            }
            Value::Null => out.push((path, String::new())),
            Value::String(s) => out.push((path, s.clone())),
            other => out.push((path, other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk(v, String::new(), item, &mut out);
    out.sort();
    out
}

/// Asserts that `path.xml` says what `path.json` says, under root `root`.
async fn assert_xml_is_json(app: &TestApp, path: &str, token: Option<&str>, root: &str) {
    let (status, json) = get_json(app, &format!("{path}.json"), token).await;
    let (xml_status, media, xml) = get_text(app, &format!("{path}.xml"), token).await;
    assert_eq!((status, xml_status), (200, 200), "{path}: {xml}");
    assert_eq!(media, "application/xml", "{path}");
    let (xml_root, mut leaves) = xml_leaves(&xml);
    assert_eq!(xml_root, root, "{xml}");
    leaves.sort();
    let item = match root {
        "services" => "service",
        "service_requests" => "request",
        _ => root,
    };
    assert_eq!(leaves, json_leaves(&json, item), "{path}: {xml}");
}

both_backends!(
    discovery_and_services_list_the_categories_in_json_and_xml,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let (status, discovery) = get_json(&app, "/open311/v2/discovery.json", None).await;
        assert_eq!(status, 200, "{discovery}");
        let endpoint = &discovery["endpoints"][0];
        assert_eq!(
            endpoint["specification"],
            "http://wiki.open311.org/GeoReport_v2"
        );
        assert_eq!(endpoint["url"], format!("{}/open311/v2", app.base));
        assert_xml_is_json(&app, "/open311/v2/discovery", None, "discovery").await;

        let (status, services) = get_json(&app, "/open311/v2/services.json", None).await;
        assert_eq!(status, 200);
        let services = services.as_array().unwrap();
        let garbage = services
            .iter()
            .find(|s| s["service_code"] == "0101")
            .expect("0101 is a service");
        assert_eq!(garbage["service_name"], "暴露垃圾");
        assert_eq!(garbage["group"], "市容环境", "the major category");
        assert_eq!(garbage["metadata"], false);
        assert_eq!(garbage["type"], "realtime");
        assert!(
            !services.iter().any(|s| s["service_code"] == "01"),
            "a major category with minors is a group, not a service"
        );
        assert_xml_is_json(&app, "/open311/v2/services", None, "services").await;

        let (status, definition) = get_json(&app, "/open311/v2/services/0101.json", None).await;
        assert_eq!(status, 200);
        assert_eq!(definition["service_code"], "0101");
        assert_eq!(definition["attributes"], serde_json::json!([]));
        assert_xml_is_json(
            &app,
            "/open311/v2/services/0101",
            None,
            "service_definition",
        )
        .await;
        let (status, _, body) = get_text(&app, "/open311/v2/services/9999.json", None).await;
        assert_open311_error(status, &body, 404, "9999");
        let (status, media, body) = get_text(&app, "/open311/v2/services/9999.xml", None).await;
        assert_eq!((status, media.as_str()), (404, "application/xml"));
        let (root, leaves) = xml_leaves(&body);
        assert_eq!(root, "errors");
        assert_eq!(leaves[0], ("error#0/code#0".into(), "404".into()));
        assert_eq!(leaves[1].0, "error#0/description#0");
    }
);

both_backends!(
    a_posted_request_is_a_case_that_the_requests_show_with_status_and_agency,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let key = api_key(&app).await;
        let (status, body, _) = post_form(
            &app,
            "/open311/v2/requests.json",
            &form(&key, POINT, "垃圾堆在路边"),
            None,
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let created: Value = serde_json::from_str(&body).unwrap();
        let id = created[0]["service_request_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(id.starts_with("XL-"), "{id}");
        assert_eq!(created[0]["account_id"], Value::Null);
        assert_eq!(
            created[0]["service_notice"],
            "handled within PT4H (working hours)"
        );

        // A real case: dispatched by the plan library to the community, as any report.
        let dispatcher = app.token("dispatcher", None).await;
        let (status, case, _) = app.get_as(&format!("/v1/cases/{id}"), &dispatcher).await;
        assert_eq!(status, 200, "{case}");
        assert_eq!(case["state"], "dispatched", "{case}");

        // The public: open, the community's name, the deadline, a coarse point, nothing
        // personal.
        let (status, public) =
            get_json(&app, &format!("/open311/v2/requests/{id}.json"), None).await;
        assert_eq!(status, 200, "{public}");
        let r = &public[0];
        assert_eq!(r["service_request_id"], id.as_str());
        assert_eq!(r["status"], "open");
        assert_eq!(r["service_code"], "0101");
        assert_eq!(r["service_name"], "暴露垃圾");
        assert_eq!(r["agency_responsible"], format!("测试{COMMUNITY}"));
        assert!(r["expected_datetime"].as_str().unwrap().ends_with("+08:00"));
        assert!(
            r["requested_datetime"]
                .as_str()
                .unwrap()
                .ends_with("+08:00")
        );
        assert!(
            r["status_notes"].as_str().unwrap().starts_with("dispatch"),
            "{r}"
        );
        let coarse = citysnap::api::ogc::coarsened(POINT.0, POINT.1).unwrap();
        assert_eq!(
            (r["long"].as_f64(), r["lat"].as_f64()),
            (Some(coarse.0), Some(coarse.1))
        );
        for personal in ["description", "address"] {
            assert_eq!(r[personal], Value::Null, "{personal}: {r}");
        }
        let text = public.to_string();
        for secret in ["13912345678", "李", "example.org", "3号楼", "垃圾堆在路边"] {
            assert!(
                !text.contains(secret),
                "{secret} shown to the public: {text}"
            );
        }
        assert_xml_is_json(
            &app,
            &format!("/open311/v2/requests/{id}"),
            None,
            "service_requests",
        )
        .await;

        // The dispatcher: exact point, description and address, still no contact.
        let (_, exact) = get_json(
            &app,
            &format!("/open311/v2/requests/{id}.json"),
            Some(&dispatcher),
        )
        .await;
        assert_eq!(
            (exact[0]["long"].as_f64(), exact[0]["lat"].as_f64()),
            (Some(POINT.0), Some(POINT.1))
        );
        assert_eq!(exact[0]["description"], "垃圾堆在路边");
        assert_eq!(exact[0]["address"], "兴隆台街道某小区3号楼");
        assert!(!exact.to_string().contains("13912345678"));
        assert_xml_is_json(
            &app,
            &format!("/open311/v2/requests/{id}"),
            Some(&dispatcher),
            "service_requests",
        )
        .await;

        // Listed, and found again by its token.
        let (_, listed) = get_json(&app, "/open311/v2/requests.json", None).await;
        assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
        assert_eq!(listed[0], public[0]);
        assert_xml_is_json(&app, "/open311/v2/requests", None, "service_requests").await;
        let token = created[0]["token"].as_str().unwrap();
        let (status, by_token) =
            get_json(&app, &format!("/open311/v2/tokens/{token}.json"), None).await;
        assert_eq!(status, 200, "{by_token}");
        assert_eq!(by_token[0]["service_request_id"], id.as_str());
        let (status, _, body) =
            get_text(&app, "/open311/v2/requests/XL-20000101-000009.json", None).await;
        assert_open311_error(status, &body, 404, "XL-20000101-000009");
    }
);

both_backends!(
    posting_needs_a_live_api_key_and_a_place_inside_the_service_area,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let mut without = form("", POINT, "x");
        without.remove(0);
        let (status, body, _) = post_form(&app, "/open311/v2/requests.json", &without, None).await;
        assert_open311_error(status, &body, 403, "api_key is required");
        let unknown = format!("o311_{}", "0".repeat(64));
        let (status, body, _) = post_form(
            &app,
            "/open311/v2/requests.json",
            &form(&unknown, POINT, "x"),
            None,
        )
        .await;
        assert_open311_error(status, &body, 403, "api_key is not valid");

        // Revoked through the admin API, which issued it.
        let admin = app.token("admin", None).await;
        let (status, issued, _) = app
            .post_as(
                "/v1/open311-keys",
                &admin,
                &serde_json::json!({"name": "FixMyStreet"}),
            )
            .await;
        assert_eq!(status, 201, "{issued}");
        let key = issued["api_key"].as_str().unwrap().to_owned();
        posted(&app, &key, POINT, "有效的钥匙").await;
        let (status, revoked, _) = app
            .delete_as(
                &format!("/v1/open311-keys/{}", issued["id"].as_str().unwrap()),
                &admin,
            )
            .await;
        assert_eq!((status, &revoked["revoked"]), (200, &Value::Bool(true)));
        let (status, body, _) = post_form(
            &app,
            "/open311/v2/requests.xml",
            &form(&key, POINT, "x"),
            None,
        )
        .await;
        assert_eq!(status, 403, "{body}");
        let (root, leaves) = xml_leaves(&body);
        assert_eq!(root, "errors");
        assert_eq!(
            leaves,
            [
                ("error#0/code#0".into(), "403".into()),
                (
                    "error#0/description#0".into(),
                    "api_key is not valid (unknown or revoked)".into()
                )
            ]
        );
        let resident = app.resident("13800000001").await;
        let (status, _, _) = app
            .post_as(
                "/v1/open311-keys",
                &resident,
                &serde_json::json!({"name": "x"}),
            )
            .await;
        assert_eq!(status, 403, "only admins issue keys");

        // Out of area: the readable refusal of /v1, as an Open311 error.
        let live = api_key(&app).await;
        let (status, body, _) = post_form(
            &app,
            "/open311/v2/requests.json",
            &form(&live, FAR, "济宁的井盖"),
            None,
        )
        .await;
        assert_open311_error(status, &body, 400, "km from");
        let mut bad = form(&live, POINT, "x");
        bad[1].1 = "9999".into();
        let (status, body, _) = post_form(&app, "/open311/v2/requests.json", &bad, None).await;
        assert_open311_error(status, &body, 400, "9999");
        let mut no_point = form(&live, POINT, "x");
        no_point.retain(|(k, _)| *k != "lat");
        let (status, body, _) = post_form(&app, "/open311/v2/requests.json", &no_point, None).await;
        assert_open311_error(status, &body, 400, "lat is required");
    }
);

both_backends!(a_retried_request_is_the_same_case, |backend| async move {
    let app = TestApp::spawn(backend, &small_deployment()).await;
    let key = api_key(&app).await;
    let first = form(&key, POINT, "重试");
    let (s1, b1, _) = post_form(&app, "/open311/v2/requests.json", &first, Some("r-1")).await;
    let (s2, b2, _) = post_form(&app, "/open311/v2/requests.json", &first, Some("r-1")).await;
    assert_eq!((s1, s2), (201, 201), "{b1} {b2}");
    let id = |b: &str| serde_json::from_str::<Value>(b).unwrap()[0]["service_request_id"].clone();
    assert_eq!(id(&b1), id(&b2));
    let (status, body, _) = post_form(
        &app,
        "/open311/v2/requests.json",
        &form(&key, POINT, "另一件事"),
        Some("r-1"),
    )
    .await;
    assert_open311_error(status, &body, 400, "Idempotency-Key");

    // Without the header, the device id and the form make the key.
    let mut device = form(&key, POINT, "从手机发的");
    device.push(("device_id", "phone-42".into()));
    let (_, d1, _) = post_form(&app, "/open311/v2/requests.json", &device, None).await;
    let (_, d2, _) = post_form(&app, "/open311/v2/requests.json", &device, None).await;
    assert_eq!(id(&d1), id(&d2));
    let mut other = form(&key, POINT, "从手机发的第二件");
    other.push(("device_id", "phone-42".into()));
    let (_, d3, _) = post_form(&app, "/open311/v2/requests.json", &other, None).await;
    assert_ne!(id(&d1), id(&d3));
});

both_backends!(
    requests_filter_by_id_date_status_service_and_place,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let key = api_key(&app).await;
        let a = posted(&app, &key, POINT, "第一件").await;
        let b = posted(&app, &key, (122.0725, 41.1205), "第二件").await;
        let ids = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap_or_else(|| panic!("{v}"))
                .iter()
                .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
                .collect()
        };
        let list = |query: String| {
            let app = &app;
            async move {
                let (status, v) =
                    get_json(app, &format!("/open311/v2/requests.json?{query}"), None).await;
                assert_eq!(status, 200, "{query}: {v}");
                ids(&v)
            }
        };
        assert_eq!(list(String::new()).await, [a.clone(), b.clone()]);
        assert_eq!(
            list(format!("service_request_id={b},{a}")).await,
            [b.clone(), a.clone()]
        );
        assert_eq!(list("status=open".into()).await.len(), 2);
        assert!(list("status=closed".into()).await.is_empty());
        assert_eq!(list("status=open,closed".into()).await.len(), 2);
        assert_eq!(list("service_code=01".into()).await.len(), 2, "a group");
        assert!(list("service_code=0102".into()).await.is_empty());
        assert!(
            list("start_date=2099-01-01T00:00:00%2B08:00".into())
                .await
                .is_empty()
        );
        assert!(
            list("end_date=2020-01-01T00:00:00Z".into())
                .await
                .is_empty()
        );
        let today = chrono::Utc::now();
        let window = format!(
            "start_date={}&end_date={}",
            (today - chrono::TimeDelta::days(1)).format("%Y-%m-%dT%H:%M:%SZ"),
            (today + chrono::TimeDelta::hours(1)).format("%Y-%m-%dT%H:%M:%SZ"),
        );
        assert_eq!(list(window).await.len(), 2);
        // The public's circle applies to the coarsened points (each within some 75 m of its
        // report): 100 m around A holds A, not B some 210 m east.
        let near = list(format!("lat={}&long={}&radius=100", POINT.1, POINT.0)).await;
        assert_eq!(near, [a.clone()]);
        assert_eq!(
            list(format!("lat={}&long={}&radius=5000", POINT.1, POINT.0))
                .await
                .len(),
            2
        );
        assert!(
            list("lat=41.5&long=122.5&radius=1000".into())
                .await
                .is_empty()
        );

        for (query, says) in [
            ("status=pending", "status"),
            ("start_date=yesterday", "start_date"),
            (
                "start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
                "90 days",
            ),
            ("lat=41.12", "lat, long"),
            ("radius=-3&lat=41.12&long=122.07", "radius"),
            ("service_code=01%2A", "service_code"),
        ] {
            let (status, _, body) =
                get_text(&app, &format!("/open311/v2/requests.json?{query}"), None).await;
            assert_open311_error(status, &body, 400, says);
        }
    }
);
