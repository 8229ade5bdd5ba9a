//! `citysnap resolve --boundaries FILE.geojson [--datum D] [--code-property P] < in.csv > out.csv`:
//! the offline batch resolver. Input CSV `id,lon,lat`; output CSV `id,code`, the code empty
//! for a point outside every polygon. It streams: memory holds the boundaries, not the rows.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use geo::MultiPolygon;

use crate::domain::spatial::coords::LonLat;
use crate::domain::spatial::datum::Datum;
use crate::domain::spatial::resolver::PolygonIndex;

/// Reads polygons and their codes from a GeoJSON FeatureCollection, converted to WGS-84.
pub fn load_polygons(
    path: &Path,
    datum: Datum,
    code_property: &str,
) -> anyhow::Result<(Vec<String>, PolygonIndex)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let fc: geojson::FeatureCollection = text
        .parse::<geojson::GeoJson>()
        .with_context(|| format!("{} is not GeoJSON", path.display()))?
        .try_into()
        .with_context(|| format!("{} is not a FeatureCollection", path.display()))?;
    let mut items: Vec<(String, MultiPolygon<f64>)> = Vec::with_capacity(fc.features.len());
    for (i, f) in fc.features.into_iter().enumerate() {
        let code = match f.property(code_property) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => bail!("feature {i} has no `{code_property}` property"),
        };
        let geometry = f
            .geometry
            .with_context(|| format!("feature {i} ({code}) has no geometry"))?;
        let mut mp = match geo::Geometry::<f64>::try_from(geometry)
            .with_context(|| format!("feature {i} ({code})"))?
        {
            geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
            geo::Geometry::MultiPolygon(mp) => mp,
            _ => bail!("feature {i} ({code}) is not a Polygon or MultiPolygon"),
        };
        use geo::MapCoordsInPlace;
        mp.map_coords_in_place(|c| {
            let (x, y) = datum.to_wgs84(c.x, c.y);
            geo::Coord { x, y }
        });
        items.push((code, mp));
    }
    // Rank by code so that a point on a shared edge goes to the smaller code, as in the
    // service (see domain::spatial::resolver).
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| items[a].0.cmp(&items[b].0));
    let mut rank = vec![0u32; items.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r as u32;
    }
    let (codes, polygons): (Vec<String>, Vec<MultiPolygon<f64>>) = items.into_iter().unzip();
    Ok((codes, PolygonIndex::new(polygons, rank)))
}

/// Streams `input` to `output`, resolving each row. Input coordinates are WGS-84 (the
/// boundaries are converted instead, once).
pub fn run(
    codes: &[String],
    index: &PolygonIndex,
    input: impl Read,
    output: impl Write,
) -> anyhow::Result<u64> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input);
    let headers = reader.headers().context("reading the CSV header")?.clone();
    if headers.iter().collect::<Vec<_>>() != ["id", "lon", "lat"] {
        bail!(
            "the input CSV header must be `id,lon,lat`, got `{}`",
            headers.iter().collect::<Vec<_>>().join(",")
        );
    }
    let mut writer = csv::Writer::from_writer(output);
    writer.write_record(["id", "code"])?;
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    while reader
        .read_record(&mut record)
        .with_context(|| format!("reading row {}", rows + 2))?
    {
        let line = rows + 2;
        let number = |i: usize, name: &str| -> anyhow::Result<f64> {
            record
                .get(i)
                .with_context(|| format!("line {line}: missing {name}"))?
                .trim()
                .parse()
                .with_context(|| format!("line {line}: {name} is not a number"))
        };
        let at = LonLat::parse(number(1, "lon")?, number(2, "lat")?)
            .with_context(|| format!("line {line}"))?;
        let code = index
            .locate(at.coord())
            .map_or("", |i| codes[i as usize].as_str());
        writer.write_record([record.get(0).unwrap_or(""), code])?;
        rows += 1;
    }
    writer.flush()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_rows_and_leaves_outside_points_empty() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/boundaries/panjin_districts.gcj02.geojson");
        let (codes, index) = load_polygons(&path, Datum::Gcj02, "code").unwrap();
        // 兴隆台区 centre (WGS-84), 任城区 in Jining, open sea.
        let input = "id,lon,lat\na,122.0700,41.1200\nb,116.5950,35.4100\nc,121.0,40.0\n";
        let mut out = Vec::new();
        assert_eq!(run(&codes, &index, input.as_bytes(), &mut out).unwrap(), 3);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,code\na,211103\nb,\nc,\n"
        );
    }

    #[test]
    fn refuses_a_wrong_header_and_bad_numbers_with_the_line() {
        let (codes, index) = (vec![], PolygonIndex::new(vec![], vec![]));
        let err = run(&codes, &index, "id,lat,lon\n".as_bytes(), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("id,lon,lat"), "{err}");
        let err = run(
            &codes,
            &index,
            "id,lon,lat\na,1,2\nb,x,2\n".as_bytes(),
            Vec::new(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("line 3"), "{err:#}");
        let err = run(
            &codes,
            &index,
            "id,lon,lat\na,1,NaN\n".as_bytes(),
            Vec::new(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("finite"), "{err:#}");
    }
}
