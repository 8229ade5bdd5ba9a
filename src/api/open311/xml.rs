//! GeoReport v2's XML, written from the JSON value of the same document: an object's
//! members are child elements in order, a list is a wrapper element holding one element per
//! item (`<attributes><attribute>…`), `null` an empty element. So the XML says exactly what
//! the JSON says (the spec's XML examples have this shape).

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::Value;

/// The element name of one item of the list named `list`.
fn item_of(list: &str) -> &str {
    match list {
        "endpoints" => "endpoint",
        "formats" => "format",
        "attributes" => "attribute",
        "values" => "value",
        "services" => "service",
        "service_requests" => "request",
        "errors" => "error",
        _ => "item",
    }
}

/// `value` as the XML document with root element `root` (a list root holds its items).
pub fn document(root: &str, value: &Value) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    element(&mut w, root, value);
    w.into_inner()
}

fn element(w: &mut Writer<Vec<u8>>, name: &str, value: &Value) {
    match value {
        Value::Null => {
            let _ = w.write_event(Event::Empty(BytesStart::new(name)));
            return;
        }
        _ => {
            let _ = w.write_event(Event::Start(BytesStart::new(name)));
        }
    }
    match value {
        Value::Object(members) => {
            for (k, v) in members {
                element(w, k, v);
            }
        }
        Value::Array(items) => {
            for v in items {
                element(w, item_of(name), v);
            }
        }
        Value::String(s) => text(w, s),
        Value::Bool(b) => text(w, if *b { "true" } else { "false" }),
        Value::Number(n) => text(w, &n.to_string()),
        Value::Null => {}
    }
    let _ = w.write_event(Event::End(BytesEnd::new(name)));
}

fn text(w: &mut Writer<Vec<u8>>, s: &str) {
    let _ = w.write_event(Event::Text(BytesText::new(s)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_wrap_their_items_and_text_is_escaped() {
        let doc = document(
            "services",
            &json!([{"service_code": "0302", "service_name": "井盖 <缺失> & 松动", "metadata": false, "group": null}]),
        );
        assert_eq!(
            String::from_utf8(doc).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><services><service>\
             <service_code>0302</service_code><service_name>井盖 &lt;缺失&gt; &amp; 松动</service_name>\
             <metadata>false</metadata><group/></service></services>"
        );
    }

    #[test]
    fn errors_have_the_spec_shape() {
        let doc = document(
            "errors",
            &json!([{"code": 403, "description": "api_key is required"}]),
        );
        assert!(String::from_utf8(doc).unwrap().ends_with(
            "<errors><error><code>403</code><description>api_key is required</description></error></errors>"
        ));
    }
}
