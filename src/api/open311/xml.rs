//! GeoReport v2's XML, written from the JSON of the same document: an object's members
//! are child elements in their order, a list is a wrapper element holding one element per
//! item (`<attributes><attribute>…`), `null` an empty element. So the XML says exactly what
//! the JSON says (the spec's XML examples have this shape).

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value whose object members keep their order (`serde_json::Value` sorts them
/// unless the crate-wide `preserve_order` feature is on).
enum Node {
    Null,
    Text(String),
    List(Vec<Node>),
    Members(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Node, E> {
                Ok(Node::Text(b.to_string()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Node, E> {
                Ok(Node::Text(n.to_string()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Node, E> {
                Ok(Node::Text(n.to_string()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Node, E> {
                Ok(Node::Text(
                    serde_json::Number::from_f64(n).map_or_else(String::new, |n| n.to_string()),
                ))
            }
            fn visit_str<E>(self, s: &str) -> Result<Node, E> {
                Ok(Node::Text(s.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(n) = seq.next_element()? {
                    items.push(n);
                }
                Ok(Node::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut members = Vec::new();
                while let Some(m) = map.next_entry()? {
                    members.push(m);
                }
                Ok(Node::Members(members))
            }
        }
        d.deserialize_any(V)
    }
}

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

/// `body` as the XML document with root element `root` (a list root holds its items).
pub fn document<T: Serialize>(root: &str, body: &T) -> Result<Vec<u8>, serde_json::Error> {
    let node: Node = serde_json::from_slice(&serde_json::to_vec(body)?)?;
    let mut w = Writer::new(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    element(&mut w, root, &node);
    Ok(w.into_inner())
}

fn element(w: &mut Writer<Vec<u8>>, name: &str, node: &Node) {
    if let Node::Null = node {
        let _ = w.write_event(Event::Empty(BytesStart::new(name)));
        return;
    }
    let _ = w.write_event(Event::Start(BytesStart::new(name)));
    match node {
        Node::Members(members) => {
            for (k, v) in members {
                element(w, k, v);
            }
        }
        Node::List(items) => {
            for v in items {
                element(w, item_of(name), v);
            }
        }
        Node::Text(s) => {
            let _ = w.write_event(Event::Text(BytesText::new(s)));
        }
        Node::Null => {}
    }
    let _ = w.write_event(Event::End(BytesEnd::new(name)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Serialize)]
    struct Service {
        service_code: &'static str,
        service_name: &'static str,
        metadata: bool,
        group: Option<&'static str>,
    }

    #[test]
    fn members_keep_their_order_lists_wrap_their_items_and_text_is_escaped() {
        let doc = document(
            "services",
            &[Service {
                service_code: "0302",
                service_name: "井盖 <缺失> & 松动",
                metadata: false,
                group: None,
            }],
        )
        .unwrap();
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
        )
        .unwrap();
        assert!(String::from_utf8(doc).unwrap().ends_with(
            "<errors><error><code>403</code><description>api_key is required</description></error></errors>"
        ));
    }
}
