//! Empty: see this package's manifest. Burn's `tch` feature must stay off in genius.
