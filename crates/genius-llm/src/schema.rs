//! The JSON schema of an answer, derived from the space: one property per dimension, each allowed only its
//! options (indices or labels, as the space's notation writes them). It keeps to the subset every provider's strict
//! mode accepts: every property required, no additional properties, no length limits.

use genius_core::{Architecture, Notation, SearchSpace};
use serde_json::{Value, json};

use crate::chat::JsonSchema;

/// A dimension name as a property name: letters, digits and `_` (`layer 2` becomes `layer_2`).
pub fn property(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    while out.contains("__") {
        out = out.replace("__", "_");
    }
    out.trim_matches('_').to_owned()
}

/// The schema of one architecture.
pub fn architecture(space: &dyn SearchSpace, notation: Notation) -> Value {
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for dim in space.dimensions() {
        let values: Vec<Value> = match notation {
            Notation::Choices => (0..dim.len()).map(|i| json!(i)).collect(),
            _ => {
                let numbers: Option<Vec<f64>> = dim.options.iter().map(|o| o.trim().parse::<f64>().ok()).collect();
                match numbers {
                    Some(ns) if ns.iter().all(|x| x.fract() == 0.0) => ns.iter().map(|x| json!(*x as i64)).collect(),
                    Some(ns) => ns.iter().map(|x| json!(x)).collect(),
                    None => dim.options.iter().map(|o| json!(o)).collect(),
                }
            }
        };
        let kind = if values.iter().all(Value::is_i64) {
            "integer"
        } else if values.iter().all(Value::is_number) {
            "number"
        } else {
            "string"
        };
        let name = property(&dim.name);
        properties.insert(name.clone(), json!({ "type": kind, "enum": values, "description": dim.name }));
        required.push(json!(name));
    }
    json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
}

/// `arch` as the object [`architecture`]'s schema writes it (`{"layer_1": 0, ...}`, the options as its `enum`s
/// give them).
pub fn architecture_value(space: &dyn SearchSpace, notation: Notation, arch: &Architecture) -> Value {
    let mut object = serde_json::Map::new();
    for (i, dim) in space.dimensions().iter().enumerate() {
        let choice = arch.choice(i);
        let value = match notation {
            Notation::Choices => json!(choice),
            _ => {
                let numbers: Option<Vec<f64>> = dim.options.iter().map(|o| o.trim().parse::<f64>().ok()).collect();
                match numbers {
                    Some(ns) if ns.iter().all(|x| x.fract() == 0.0) => json!(ns[choice] as i64),
                    Some(ns) => json!(ns[choice]),
                    None => json!(dim.options[choice]),
                }
            }
        };
        object.insert(property(&dim.name), value);
    }
    Value::Object(object)
}

/// The schema of an answer: `k` architectures (one as `architecture`, several as `architectures`), after an
/// `analysis` text where the protocol asks the model to reason first.
pub fn answer(space: &dyn SearchSpace, notation: Notation, k: usize, analysis: bool) -> JsonSchema {
    let arch = architecture(space, notation);
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    if analysis {
        properties.insert("analysis".into(), json!({ "type": "string" }));
        required.push(json!("analysis"));
    }
    if k == 1 {
        properties.insert("architecture".into(), arch);
        required.push(json!("architecture"));
    } else {
        properties.insert(
            "architectures".into(),
            json!({ "type": "array", "items": arch, "description": format!("exactly {k} different designs") }),
        );
        required.push(json!("architectures"));
    }
    JsonSchema {
        name: "proposal".into(),
        schema: json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false }),
    }
}

#[cfg(test)]
mod tests {
    use genius_core::testing::ToySpace;

    use super::*;
    use crate::reply;

    #[test]
    fn the_schema_allows_exactly_each_dimensions_options() {
        let s = architecture(&ToySpace::new(), Notation::Choices);
        assert_eq!(s["properties"]["width"]["enum"], json!([0, 1, 2, 3]));
        assert_eq!(s["required"], json!(["depth", "width", "op"]));
        let s = architecture(&ToySpace::new(), Notation::Labels);
        assert_eq!(s["properties"]["width"]["enum"], json!([8, 16, 32, 64]));
        assert_eq!(s["properties"]["op"]["enum"], json!(["conv", "pool"]));
        assert_eq!(s["properties"]["op"]["type"], json!("string"));
        assert_eq!(property("layer 2"), "layer_2");
        assert_eq!(property("edge 1<-0"), "edge_1_0");
    }

    #[test]
    fn an_answer_in_the_schema_parses_back() {
        let schema = answer(&ToySpace::new(), Notation::Labels, 1, true);
        assert_eq!(schema.schema["required"], json!(["analysis", "architecture"]));
        let reply = r#"{"analysis": "wide and deep", "architecture": {"depth": 3, "width": 64, "op": "conv"}}"#;
        let c = reply::candidates(reply, &ToySpace::new(), Notation::Labels);
        assert_eq!(reply::last_well_formed(&c, 1)[0].choices(), &[2, 3, 0]);
    }
}
