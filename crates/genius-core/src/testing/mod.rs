//! A toy search space, table evaluator and optimizers for tests of genius and of crates built on it (feature
//! `testing`). Small enough to enumerate, with a held-out metric, a constraint and a failing architecture.

pub mod conformance;

use async_trait::async_trait;

use crate::{
    Architecture, AskContext, Dimension, Direction, EvalError, Evaluation, Evaluator, Metric, MetricSpec, Notation,
    Observation, Optimizer, OptimizerError, Optimum, Rank, SearchSpace, SpaceBrief, SpaceExt, Violation, Visibility,
};

/// Depth {1, 2, 3} × width {8, 16, 32, 64} × op {conv, pool}: 24 architectures. Optionally constrained to reject
/// depth 3 with width 64 (a stand-in for a FLOPs window).
#[derive(Debug, Clone)]
pub struct ToySpace {
    dims: Vec<Dimension>,
    constrained: bool,
    brief: bool,
}

impl ToySpace {
    /// The unconstrained toy space.
    pub fn new() -> Self {
        Self {
            dims: vec![
                Dimension::new("depth", ["1", "2", "3"]),
                Dimension::new("width", ["8", "16", "32", "64"]),
                Dimension::new("op", ["conv", "pool"]),
            ],
            constrained: false,
            brief: false,
        }
    }

    /// The toy space with its constraint.
    pub fn constrained() -> Self {
        Self { constrained: true, ..Self::new() }
    }

    /// The same space, describing itself to a language model ([`SearchSpace::brief`]), for tests of LLM optimizers.
    pub fn with_brief(self) -> Self {
        Self { brief: true, ..self }
    }
}

impl Default for ToySpace {
    fn default() -> Self {
        Self::new()
    }
}

impl SearchSpace for ToySpace {
    fn name(&self) -> &str {
        "toy"
    }
    fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }
    fn check(&self, arch: &Architecture) -> Result<(), Violation> {
        if self.constrained && arch.choice(0) == 2 && arch.choice(1) == 3 {
            return Err(Violation { message: "depth 3 with width 64 is too large".into() });
        }
        Ok(())
    }
    fn is_constrained(&self) -> bool {
        self.constrained
    }
    fn brief(&self) -> Option<SpaceBrief> {
        self.brief.then(|| SpaceBrief {
            task: "The model will be trained and tested on a toy dataset, and the objective is to maximize its \
                   accuracy."
                .into(),
            operations: vec![
                "depth: 0 is 1 layer, 1 is 2 layers, 2 is 3 layers".into(),
                "width: 0 is 8 channels, 1 is 16, 2 is 32, 3 is 64".into(),
                "op: 0 is a 3x3 convolution, 1 is a 3x3 average pooling".into(),
            ],
            notes: if self.constrained {
                vec!["A network of 3 layers must not be 64 channels wide.".into()]
            } else {
                Vec::new()
            },
            layout: "input -> [depth x (op with width channels)] -> global pooling -> linear".into(),
            notation: Notation::Choices,
            answer_format: "a list of 3 ids [depth, width, op]".into(),
            example: "[1, 2, 0]".into(),
            tables: Vec::new(),
            dialogue: crate::Dialogue::Fresh,
        })
    }
}

/// A table over [`ToySpace`]: `val_acc` (searched), `test_acc` (held out), `params`; architecture `[0, 0, 1]` fails.
#[derive(Debug, Clone)]
pub struct ToyTable {
    spec: MetricSpec,
    space: ToySpace,
}

impl ToyTable {
    /// The table.
    pub fn new() -> Self {
        let metric = |name: &str, visibility, description: &str| Metric {
            name: name.into(),
            direction: Direction::Maximize,
            visibility,
            description: description.into(),
        };
        Self {
            spec: MetricSpec {
                metrics: vec![
                    metric("val_acc", Visibility::Search, "toy validation accuracy"),
                    metric("test_acc", Visibility::Reported, "toy test accuracy"),
                ],
                search: "val_acc".into(),
                report: "test_acc".into(),
            },
            space: ToySpace::new(),
        }
    }

    /// The validation accuracy of `arch`: grows with depth and width, conv beats pool, with a bump at width 32.
    pub fn val_acc(arch: &Architecture) -> f64 {
        let (d, w, op) = (arch.choice(0) as f64, arch.choice(1) as f64, arch.choice(2) as f64);
        50.0 + 10.0 * d + 6.0 * w - 3.0 * op + if arch.choice(1) == 2 { 5.0 } else { 0.0 }
    }

    /// The test accuracy of `arch`: the validation accuracy shifted, with depth 2 favoured, so that the two metrics
    /// rank differently.
    pub fn test_acc(arch: &Architecture) -> f64 {
        Self::val_acc(arch) - 2.0 + if arch.choice(0) == 1 { 15.0 } else { 0.0 }
    }

    fn is_failing(arch: &Architecture) -> bool {
        arch.choices() == [0, 0, 1]
    }
}

impl Default for ToyTable {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Evaluator for ToyTable {
    fn name(&self) -> &str {
        "toy-table"
    }
    fn metrics(&self) -> &MetricSpec {
        &self.spec
    }
    async fn evaluate(&self, arch: &Architecture) -> Result<Evaluation, EvalError> {
        if Self::is_failing(arch) {
            return Err(EvalError::Failed("this toy architecture always fails".into()));
        }
        let test = Self::test_acc(arch);
        let better = self.space.enumerate().filter(|a| !Self::is_failing(a) && Self::test_acc(a) > test).count();
        Ok(Evaluation {
            metrics: [("val_acc".to_owned(), Self::val_acc(arch)), ("test_acc".to_owned(), test)].into(),
            params: Some(1000 * (arch.choice(0) as u64 + 1) * (arch.choice(1) as u64 + 1)),
            rank: Some(Rank { rank: better as u64 + 1, of: 24 }),
            ..Default::default()
        })
    }
    fn optimum(&self) -> Option<Optimum> {
        let arch = self
            .space
            .enumerate()
            .filter(|a| !Self::is_failing(a))
            .max_by(|a, b| Self::test_acc(a).total_cmp(&Self::test_acc(b)))?;
        Some(Optimum { value: Self::test_acc(&arch), arch })
    }
}

/// Proposes uniformly random architectures of any space (with replacement). Tests use it; genius-baselines holds the
/// real random search.
#[derive(Debug, Clone, Copy, Default)]
pub struct UniformOptimizer;

#[async_trait]
impl Optimizer for UniformOptimizer {
    fn name(&self) -> &str {
        "uniform"
    }
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    async fn ask(&mut self, ctx: &mut AskContext<'_>, n: usize) -> Result<Vec<Architecture>, OptimizerError> {
        Ok((0..n).map(|_| ctx.space.sample(ctx.rng)).collect())
    }
    fn tell(&mut self, _trials: &[Observation]) {}
    fn multi_objective(&self) -> bool {
        true
    }
}

/// Proposes a fixed list of architectures in order, then nothing; remembers what it was told.
#[derive(Debug, Clone, Default)]
pub struct ScriptedOptimizer {
    /// What is left to propose.
    pub script: std::collections::VecDeque<Architecture>,
    /// Everything it was told, in order.
    pub told: Vec<Observation>,
}

impl ScriptedOptimizer {
    /// An optimizer that will propose `script`.
    pub fn new(script: impl IntoIterator<Item = Architecture>) -> Self {
        Self { script: script.into_iter().collect(), told: Vec::new() }
    }
}

#[async_trait]
impl Optimizer for ScriptedOptimizer {
    fn name(&self) -> &str {
        "scripted"
    }
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    async fn ask(&mut self, _ctx: &mut AskContext<'_>, n: usize) -> Result<Vec<Architecture>, OptimizerError> {
        let k = n.min(self.script.len());
        Ok(self.script.drain(..k).collect())
    }
    fn tell(&mut self, trials: &[Observation]) {
        self.told.extend_from_slice(trials);
    }
    fn multi_objective(&self) -> bool {
        true
    }
}
