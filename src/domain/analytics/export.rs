//! Reports as columns (issue 12, "Export"): GeoParquet 1.1 files and Arrow IPC streams that
//! geopandas, DuckDB, pyarrow, QGIS and kepler.gl read without help.
//!
//! The encoder is fed pages of reports and hands back the bytes ready to send after each
//! page, so an export of millions of reports streams with memory bounded by one Parquet row
//! group. Which columns exist depends on the [`ExportView`]: the public gets the same
//! fields as the public `reports` collection (category, state, day, grid, community, a point
//! coarsened to its resolution-10 cell centre; no case id), staff the case's own.
//!
//! - GeoParquet 1.1 (<https://geoparquet.org/releases/v1.1.0/>): a WKB `geometry` column and
//!   the `geo` key of the file metadata with `version`, `primary_column`, and for the column
//!   its `encoding`, `geometry_types`, `crs` (PROJJSON of OGC:CRS84) and `bbox`. The bbox is
//!   known only at the end, which is where Parquet keeps its metadata anyway (the footer).
//! - Arrow IPC stream (<https://arrow.apache.org/docs/format/Columnar.html#ipc-streaming-format>):
//!   the same columns; the geometry field carries the GeoArrow extension name
//!   `geoarrow.wkb` and its CRS, the schema the same `geo` metadata without the bbox (an IPC
//!   stream's schema comes first).

use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow_array::builder::{
    BinaryBuilder, Date32Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::{Value, json};

/// Rows per Parquet row group: the encoder's memory is about this many reports.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// What the caller may see of each report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportView {
    /// Category, state, day, grid, community and the coarsened point.
    Public,
    /// The case as staff within their scope see it: id, exact point, units, target, deadline.
    Staff,
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// GeoParquet 1.1 (`application/vnd.apache.parquet`).
    GeoParquet,
    /// Arrow IPC stream (`application/vnd.apache.arrow.stream`).
    ArrowStream,
}

impl ExportFormat {
    pub fn media_type(self) -> &'static str {
        match self {
            ExportFormat::GeoParquet => "application/vnd.apache.parquet",
            ExportFormat::ArrowStream => "application/vnd.apache.arrow.stream",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::GeoParquet => "parquet",
            ExportFormat::ArrowStream => "arrow",
        }
    }
}

/// One report as exported. For the public view the service has already coarsened the
/// point and left the staff-only fields empty; the encoder drops their columns.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedReport {
    pub case_id: Option<String>,
    pub category: String,
    pub state: String,
    pub submitted_at: DateTime<Utc>,
    /// The day in the deployment's time zone, as the analytics count it.
    pub day: NaiveDate,
    pub district: Option<String>,
    pub street: Option<String>,
    pub community: Option<String>,
    pub grid: Option<String>,
    /// The unit or department the case is with.
    pub target: Option<String>,
    pub deadline_at: Option<DateTime<Utc>>,
    /// green, yellow or red at the time of the export.
    pub warning: Option<String>,
    pub lon: f64,
    pub lat: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] ParquetError),
}

/// OGC:CRS84 (WGS 84, longitude before latitude) as PROJJSON, which GeoParquet's `crs`
/// requires (§ "crs"); what pyproj writes for `CRS("OGC:CRS84").to_json_dict()`.
fn crs84() -> Value {
    json!({
        "$schema": "https://proj.org/schemas/v0.7/projjson.schema.json",
        "type": "GeographicCRS",
        "name": "WGS 84 (CRS84)",
        "datum_ensemble": {
            "name": "World Geodetic System 1984 ensemble",
            "members": [
                {"name": "World Geodetic System 1984 (Transit)", "id": {"authority": "EPSG", "code": 1166}},
                {"name": "World Geodetic System 1984 (G730)", "id": {"authority": "EPSG", "code": 1152}},
                {"name": "World Geodetic System 1984 (G873)", "id": {"authority": "EPSG", "code": 1153}},
                {"name": "World Geodetic System 1984 (G1150)", "id": {"authority": "EPSG", "code": 1154}},
                {"name": "World Geodetic System 1984 (G1674)", "id": {"authority": "EPSG", "code": 1155}},
                {"name": "World Geodetic System 1984 (G1762)", "id": {"authority": "EPSG", "code": 1156}},
                {"name": "World Geodetic System 1984 (G2139)", "id": {"authority": "EPSG", "code": 1309}}
            ],
            "ellipsoid": {"name": "WGS 84", "semi_major_axis": 6378137, "inverse_flattening": 298.257223563},
            "accuracy": "2.0",
            "id": {"authority": "EPSG", "code": 6326}
        },
        "coordinate_system": {
            "subtype": "ellipsoidal",
            "axis": [
                {"name": "Geodetic longitude", "abbreviation": "Lon", "direction": "east", "unit": "degree"},
                {"name": "Geodetic latitude", "abbreviation": "Lat", "direction": "north", "unit": "degree"}
            ]
        },
        "scope": "Not known.",
        "area": "World.",
        "bbox": {"south_latitude": -90, "west_longitude": -180, "north_latitude": 90, "east_longitude": 180},
        "id": {"authority": "OGC", "code": "CRS84"}
    })
}

/// The `geo` metadata of GeoParquet 1.1 for one WKB point column.
fn geo_metadata(bbox: Option<[f64; 4]>) -> Value {
    let mut column = json!({
        "encoding": "WKB",
        "geometry_types": ["Point"],
        "crs": crs84(),
    });
    if let Some(b) = bbox {
        column["bbox"] = json!(b);
    }
    json!({"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}})
}

/// A point as ISO WKB, little-endian (OGC 06-103r4 §8.2.3): byte order 1, type 1, x, y.
fn wkb_point(lon: f64, lat: f64) -> [u8; 21] {
    let mut b = [0u8; 21];
    b[0] = 1;
    b[1..5].copy_from_slice(&1u32.to_le_bytes());
    b[5..13].copy_from_slice(&lon.to_le_bytes());
    b[13..21].copy_from_slice(&lat.to_le_bytes());
    b
}

fn utc_millis() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The columns of `view`, in order; the geometry last, as GIS tools list it.
pub fn schema(view: ExportView, with_geo_metadata: bool) -> Schema {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let mut fields = Vec::new();
    if view == ExportView::Staff {
        fields.push(text("case_id", false));
    }
    fields.extend([text("category", false), text("state", false)]);
    if view == ExportView::Staff {
        fields.push(Field::new("submitted_at", utc_millis(), false));
    }
    fields.push(Field::new("day", DataType::Date32, false));
    if view == ExportView::Staff {
        fields.extend([text("district", true), text("street", true)]);
    }
    fields.extend([text("community", true), text("grid", true)]);
    if view == ExportView::Staff {
        fields.extend([
            text("target", true),
            Field::new("deadline_at", utc_millis(), true),
            text("warning", true),
        ]);
    }
    let geoarrow = [
        ("ARROW:extension:name".to_owned(), "geoarrow.wkb".to_owned()),
        (
            "ARROW:extension:metadata".to_owned(),
            json!({"crs": crs84()}).to_string(),
        ),
    ];
    fields.push(
        Field::new("geometry", DataType::Binary, false)
            .with_metadata(std::collections::HashMap::from(geoarrow)),
    );
    let schema = Schema::new(fields);
    if with_geo_metadata {
        schema.with_metadata(std::collections::HashMap::from([(
            "geo".to_owned(),
            geo_metadata(None).to_string(),
        )]))
    } else {
        schema
    }
}

fn epoch_days(d: NaiveDate) -> i32 {
    const UNIX_EPOCH_CE_DAYS: i32 = 719_163;
    chrono::Datelike::num_days_from_ce(&d) - UNIX_EPOCH_CE_DAYS
}

/// One record batch of `rows` in the columns of `view`.
pub fn batch(
    schema: &SchemaRef,
    view: ExportView,
    rows: &[ExportedReport],
) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let text = |f: &dyn Fn(&ExportedReport) -> Option<&str>| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(n, n * 12);
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish())
    };
    let time = |f: &dyn Fn(&ExportedReport) -> Option<DateTime<Utc>>| -> ArrayRef {
        let mut b = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
        for r in rows {
            b.append_option(f(r).map(|t| t.timestamp_millis()));
        }
        Arc::new(b.finish())
    };
    let mut columns: Vec<ArrayRef> = Vec::new();
    if view == ExportView::Staff {
        columns.push(text(&|r| Some(r.case_id.as_deref().unwrap_or_default())));
    }
    columns.push(text(&|r| Some(&r.category)));
    columns.push(text(&|r| Some(&r.state)));
    if view == ExportView::Staff {
        columns.push(time(&|r| Some(r.submitted_at)));
    }
    let mut days = Date32Builder::with_capacity(n);
    for r in rows {
        days.append_value(epoch_days(r.day));
    }
    columns.push(Arc::new(days.finish()));
    if view == ExportView::Staff {
        columns.push(text(&|r| r.district.as_deref()));
        columns.push(text(&|r| r.street.as_deref()));
    }
    columns.push(text(&|r| r.community.as_deref()));
    columns.push(text(&|r| r.grid.as_deref()));
    if view == ExportView::Staff {
        columns.push(text(&|r| r.target.as_deref()));
        columns.push(time(&|r| r.deadline_at));
        columns.push(text(&|r| r.warning.as_deref()));
    }
    let mut geometry = BinaryBuilder::with_capacity(n, n * 21);
    for r in rows {
        geometry.append_value(wkb_point(r.lon, r.lat));
    }
    columns.push(Arc::new(geometry.finish()));
    RecordBatch::try_new(schema.clone(), columns)
}

/// Where the writers put their bytes until the encoder hands them on.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Writer {
    Parquet(Box<ArrowWriter<Sink>>),
    Arrow(Box<arrow_ipc::writer::StreamWriter<Sink>>),
}

/// Encodes pages of reports into one export, handing back bytes as they are ready.
pub struct Encoder {
    view: ExportView,
    schema: SchemaRef,
    sink: Sink,
    writer: Writer,
    /// min lon, min lat, max lon, max lat of the points written.
    bbox: Option<[f64; 4]>,
    rows: u64,
}

impl Encoder {
    pub fn new(format: ExportFormat, view: ExportView) -> Result<Self, ExportError> {
        let sink = Sink::default();
        let (schema, writer) = match format {
            ExportFormat::GeoParquet => {
                let schema = Arc::new(schema(view, false));
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                    .set_created_by(format!("citysnap {}", env!("CARGO_PKG_VERSION")))
                    .build();
                let w = ArrowWriter::try_new(sink.clone(), schema.clone(), Some(props))?;
                (schema, Writer::Parquet(Box::new(w)))
            }
            ExportFormat::ArrowStream => {
                let schema = Arc::new(schema(view, true));
                let w = arrow_ipc::writer::StreamWriter::try_new(sink.clone(), &schema)?;
                (schema, Writer::Arrow(Box::new(w)))
            }
        };
        Ok(Self {
            view,
            schema,
            sink,
            writer,
            bbox: None,
            rows: 0,
        })
    }

    /// Adds a page of reports; returns the bytes that are ready (none while a Parquet row
    /// group is still filling).
    pub fn write(&mut self, rows: &[ExportedReport]) -> Result<Vec<u8>, ExportError> {
        if rows.is_empty() {
            return Ok(self.sink.take());
        }
        for r in rows {
            let b = self.bbox.get_or_insert([r.lon, r.lat, r.lon, r.lat]);
            b[0] = b[0].min(r.lon);
            b[1] = b[1].min(r.lat);
            b[2] = b[2].max(r.lon);
            b[3] = b[3].max(r.lat);
        }
        self.rows += rows.len() as u64;
        let batch = batch(&self.schema, self.view, rows)?;
        match &mut self.writer {
            Writer::Parquet(w) => w.write(&batch)?,
            Writer::Arrow(w) => w.write(&batch)?,
        }
        Ok(self.sink.take())
    }

    /// Ends the export (the Parquet footer with the `geo` metadata and its bbox, or the IPC
    /// end-of-stream marker) and returns the last bytes.
    pub fn finish(self) -> Result<Vec<u8>, ExportError> {
        match self.writer {
            Writer::Parquet(mut w) => {
                w.append_key_value_metadata(KeyValue::new(
                    "geo".to_owned(),
                    geo_metadata(self.bbox).to_string(),
                ));
                w.close()?;
            }
            Writer::Arrow(mut w) => w.finish()?,
        }
        Ok(self.sink.take())
    }

    /// Reports written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn report(i: u32) -> ExportedReport {
        ExportedReport {
            case_id: Some(format!("XLT-20260301-{i:05}")),
            category: "0101".into(),
            state: "closed".into(),
            submitted_at: "2026-03-01T02:03:04Z".parse().unwrap(),
            day: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            district: Some("211103".into()),
            street: Some("211103001".into()),
            community: None,
            grid: Some("211103001001001".into()),
            target: Some("211103001".into()),
            deadline_at: None,
            warning: Some("green".into()),
            lon: 122.05 + f64::from(i) * 1e-4,
            lat: 41.12,
        }
    }

    #[test]
    fn wkb_of_a_point_is_the_21_bytes_of_the_standard() {
        let b = wkb_point(1.0, 2.0);
        assert_eq!(b[0], 1);
        assert_eq!(&b[1..5], &[1, 0, 0, 0]);
        assert_eq!(f64::from_le_bytes(b[5..13].try_into().unwrap()), 1.0);
        assert_eq!(f64::from_le_bytes(b[13..21].try_into().unwrap()), 2.0);
    }

    #[test]
    fn epoch_days_count_from_1970() {
        assert_eq!(epoch_days(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()), 0);
        assert_eq!(
            epoch_days(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()),
            20_513
        );
    }

    #[test]
    fn a_parquet_export_in_pages_reads_back_with_its_geo_metadata_and_bbox() {
        let mut e = Encoder::new(ExportFormat::GeoParquet, ExportView::Staff).unwrap();
        let mut bytes = Vec::new();
        for page in 0..3 {
            let rows: Vec<_> = (0..100).map(|i| report(page * 100 + i)).collect();
            bytes.extend(e.write(&rows).unwrap());
        }
        bytes.extend(e.finish().unwrap());
        let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes)).unwrap();
        let kv = reader
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .unwrap();
        let geo: Value = serde_json::from_str(
            kv.iter()
                .find(|k| k.key == "geo")
                .unwrap()
                .value
                .as_deref()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(geo["version"], "1.1.0");
        assert_eq!(geo["columns"]["geometry"]["encoding"], "WKB");
        let bbox = geo["columns"]["geometry"]["bbox"].as_array().unwrap();
        assert_eq!(bbox[0].as_f64().unwrap(), 122.05);
        assert!((bbox[2].as_f64().unwrap() - (122.05 + 299.0 * 1e-4)).abs() < 1e-12);
        let rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 300);
    }

    #[test]
    fn the_public_schema_has_no_case_id_nor_exact_staff_columns() {
        let s = schema(ExportView::Public, false);
        let names: Vec<_> = s.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            ["category", "state", "day", "community", "grid", "geometry"]
        );
    }

    #[test]
    fn an_arrow_stream_reads_back_in_order() {
        let mut e = Encoder::new(ExportFormat::ArrowStream, ExportView::Public).unwrap();
        let mut bytes = e.write(&[report(1), report(2)]).unwrap();
        bytes.extend(e.finish().unwrap());
        let reader =
            arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        assert!(reader.schema().metadata().contains_key("geo"));
        let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    }
}
