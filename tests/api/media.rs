//! Reports with media: multipart intake, media checked by their bytes, location metadata
//! read privately and stripped from the stored copy.

use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

/// The byte-level media builders of the media module's own tests (test-only code).
#[path = "../../src/media/fixtures.rs"]
#[allow(dead_code)]
pub(crate) mod fixtures;

fn report_part() -> Part {
    let report = json!({
        "description": "路灯不亮，晚上很黑",
        "category": "0303",
        "location": {"lon": 122.07, "lat": 41.12}
    });
    Part::text(report.to_string())
        .mime_str("application/json")
        .unwrap()
}

fn photo_with_gps() -> Vec<u8> {
    fixtures::jpeg(&[
        fixtures::jfif(),
        fixtures::exif_app1(&fixtures::exif_tiff(&fixtures::xinglongtai_gps())),
    ])
}

async fn send(app: &TestApp, form: Form) -> (u16, serde_json::Value, reqwest::header::HeaderMap) {
    read(
        app.client
            .post(app.url("/v1/reports"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

both_backends!(
    a_photo_is_stored_without_its_gps_and_the_location_kept_privately,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let form = Form::new()
            .part("report", report_part())
            // The declared name and type lie; the bytes decide.
            .part(
                "photo",
                Part::bytes(photo_with_gps())
                    .file_name("IMG_0001.png")
                    .mime_str("image/png")
                    .unwrap(),
            )
            .part("voice", Part::bytes(fixtures::amr()).file_name("voice.amr"));
        let (status, body, _) = send(&app, form).await;
        assert_eq!(status, 201, "{body}");
        let media = body["media"].as_array().unwrap();
        assert_eq!(media.len(), 2);
        assert_eq!(
            (media[0]["kind"].as_str(), media[0]["media_type"].as_str()),
            (Some("photo"), Some("image/jpeg"))
        );
        assert_eq!(media[1]["kind"], "voice");
        let text = body.to_string();
        assert!(
            !text.contains("41.1201") && !text.contains("exif"),
            "EXIF location leaked: {text}"
        );

        // The store keeps the photo's own location privately, for later checks.
        let case_id = body["case_id"].as_str().unwrap();
        let stored = app.store.get_report(case_id).await.unwrap().unwrap();
        let photo = &stored.media[0];
        assert!(
            (photo.exif_lat.unwrap() - 41.1201).abs() < 1e-9,
            "{photo:?}"
        );
        assert!(
            (photo.exif_lon.unwrap() - 122.0702).abs() < 1e-9,
            "{photo:?}"
        );
        // The stored copy is the image without its EXIF segment, byte for byte.
        let file = app.config.data_dir.join("media").join(&photo.storage_key);
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(bytes, fixtures::jpeg(&[fixtures::jfif()]));
        assert!(citysnap::media::read_exif_location(&bytes).is_none());

        // The medium by its number; a number no medium has, even one beyond i32, is 404
        // with a problem document (schemathesis found a text/plain 400 for 2147483648).
        let staff = app.token("dispatcher", None).await;
        let (status, _, headers) = app
            .get_as(&format!("/v1/reports/{case_id}/media/1"), &staff)
            .await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "image/jpeg");
        for seq in ["9", "2147483648", "first"] {
            assert_problem(
                &app.get_as(&format!("/v1/reports/{case_id}/media/{seq}"), &staff)
                    .await,
                404,
                "not_found",
            );
        }
    }
);

both_backends!(
    media_are_refused_by_what_their_bytes_are_and_by_limits,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let pdf = Form::new().part("report", report_part()).part(
            "photo",
            Part::bytes(fixtures::pdf())
                .file_name("photo.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
        let resp = send(&app, pdf).await;
        assert_problem(&resp, 415, "unsupported_media_type");
        assert!(
            resp.1["detail"].as_str().unwrap().contains("pdf"),
            "{}",
            resp.1
        );

        let mut ten = Form::new().part("report", report_part());
        for _ in 0..10 {
            ten = ten.part("photo", Part::bytes(photo_with_gps()));
        }
        assert_problem(&send(&app, ten).await, 422, "too_many_media");

        let mut big = photo_with_gps();
        big.resize(10 * 1024 * 1024 + 1, 0);
        let large = Form::new()
            .part("report", report_part())
            .part("photo", Part::bytes(big));
        assert_problem(&send(&app, large).await, 413, "media_too_large");

        let stray = Form::new()
            .part("report", report_part())
            .part("document", Part::bytes(fixtures::pdf()));
        assert_problem(&send(&app, stray).await, 422, "invalid_body");
        let no_report = Form::new().part("photo", Part::bytes(photo_with_gps()));
        assert_problem(&send(&app, no_report).await, 422, "invalid_body");

        // None of them left a case behind.
        let (status, body, _) = send(&app, Form::new().part("report", report_part())).await;
        assert_eq!(status, 201);
        assert!(
            body["case_id"].as_str().unwrap().ends_with("-000001"),
            "{body}"
        );
    }
);
