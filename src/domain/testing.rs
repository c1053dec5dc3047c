//! Given these events, when this command, then these events (or this error): one harness for
//! every aggregate's tests, with no I/O.
//!
//! ```ignore
//! given::<Account>(&[registered()])
//!     .when(AccountCommand::Block { now })
//!     .then(&[AccountEvent::AccountBlocked { at: now }]);
//! ```

use super::Aggregate;
use std::fmt::Debug;

/// Applies `event`, and checks that the state it leaves survives a snapshot: written as JSON and
/// read back, it is the same state, so a snapshot and the events after it fold to what the whole
/// stream folds to. Every test history thus checks every event type its aggregate meets.
#[track_caller]
fn evolve<A: Aggregate>(state: A, event: &A::Event) -> A {
    let state = state.evolve(event);
    let snapshot = serde_json::to_value(&state).expect("a state serializes");
    let restored: A = serde_json::from_value(snapshot).expect("a snapshot reads back");
    assert_eq!(restored, state, "a snapshot changed the state");
    state
}

/// What deciding one command gave.
pub type Outcome<A> = Result<Vec<<A as Aggregate>::Event>, <A as Aggregate>::Error>;

/// An aggregate in the state its history leaves.
pub struct Given<A>(pub A);

/// The aggregate after `events`.
pub fn given<A: Aggregate>(events: &[A::Event]) -> Given<A> {
    Given(
        events
            .iter()
            .fold(A::default(), |state, event| evolve(state, event)),
    )
}

/// The aggregate after `commands`, each decided on the state the ones before left.
///
/// # Panics
/// When one of them is refused: the history a test starts from must be possible.
#[track_caller]
pub fn given_commands<A>(commands: impl IntoIterator<Item = A::Command>) -> Given<A>
where
    A: Aggregate,
    A::Error: Debug,
{
    let (state, results) = run::<A>(commands);
    for (n, result) in results.iter().enumerate() {
        if let Err(error) = result {
            panic!("the history's command {n} was refused: {error:?}");
        }
    }
    Given(state)
}

/// Decides `commands` one after the other, each on the state the accepted ones before it
/// left; returns the final state and each command's outcome.
pub fn run<A: Aggregate>(commands: impl IntoIterator<Item = A::Command>) -> (A, Vec<Outcome<A>>) {
    let mut state = A::default();
    let mut results = Vec::new();
    for command in commands {
        let result = state.decide(command);
        if let Ok(events) = &result {
            state = events
                .iter()
                .fold(state, |state, event| evolve(state, event));
        }
        results.push(result);
    }
    (state, results)
}

/// A command's outcome, and the state it was decided on.
pub struct When<A: Aggregate> {
    state: A,
    /// The events decided, or the refusal.
    pub outcome: Outcome<A>,
}

impl<A: Aggregate> Given<A> {
    /// Decides `command` on this state.
    pub fn when(&self, command: A::Command) -> When<A> {
        When {
            state: self.0.clone(),
            outcome: self.0.decide(command),
        }
    }

    /// The state itself.
    pub fn state(&self) -> &A {
        &self.0
    }
}

impl<A> When<A>
where
    A: Aggregate,
    A::Event: PartialEq + Debug,
    A::Error: PartialEq + Debug,
{
    /// Asserts the command was accepted with exactly `expected`; returns the state after them.
    #[track_caller]
    pub fn then(self, expected: &[A::Event]) -> A {
        assert_eq!(self.outcome, Ok(expected.to_vec()));
        self.state_after()
    }

    /// Asserts the command was refused with `expected`.
    #[track_caller]
    pub fn then_error(self, expected: A::Error) {
        assert_eq!(self.outcome, Err(expected));
    }

    /// The events decided; panics on a refusal.
    #[track_caller]
    pub fn events(&self) -> Vec<A::Event> {
        match &self.outcome {
            Ok(events) => events.clone(),
            Err(error) => panic!("the command was refused: {error:?}"),
        }
    }

    /// The state after the decided events (the state before, on a refusal).
    pub fn state_after(self) -> A {
        match &self.outcome {
            Ok(events) => events
                .iter()
                .fold(self.state, |state, event| evolve(state, event)),
            Err(_) => self.state,
        }
    }
}
