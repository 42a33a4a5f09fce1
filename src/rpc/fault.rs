//! XML-RPC faults: the one place where fault codes are chosen (Supervisor's `xmlrpc.Faults`).

use crate::supervisor::SupervisorError;

use super::xml::Value;

/// Fault codes as `supervisor/xmlrpc.py` numbers them.
pub mod code {
    pub const UNKNOWN_METHOD: i32 = 1;
    pub const INCORRECT_PARAMETERS: i32 = 2;
    pub const BAD_ARGUMENTS: i32 = 3;
    pub const SIGNATURE_UNSUPPORTED: i32 = 4;
    pub const SHUTDOWN_STATE: i32 = 6;
    pub const BAD_NAME: i32 = 10;
    pub const BAD_SIGNAL: i32 = 11;
    pub const NO_FILE: i32 = 20;
    pub const NOT_EXECUTABLE: i32 = 21;
    pub const FAILED: i32 = 30;
    pub const ABNORMAL_TERMINATION: i32 = 40;
    pub const SPAWN_ERROR: i32 = 50;
    pub const ALREADY_STARTED: i32 = 60;
    pub const NOT_RUNNING: i32 = 70;
    /// Not a fault: the `status` of a successful entry in a group/all result array.
    pub const SUCCESS: i32 = 80;
    pub const ALREADY_ADDED: i32 = 90;
    pub const STILL_RUNNING: i32 = 91;
    pub const CANT_REREAD: i32 = 92;
}

/// An XML-RPC fault: `faultCode` and `faultString` (`NAME` or `NAME: extra`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: i32,
    pub string: String,
}

impl Fault {
    fn new(code: i32, string: &str) -> Fault {
        Fault {
            code,
            string: string.to_string(),
        }
    }

    pub fn unknown_method() -> Fault {
        Fault::new(code::UNKNOWN_METHOD, "UNKNOWN_METHOD")
    }

    /// Wrong argument count or type.
    pub fn incorrect_parameters() -> Fault {
        Fault::new(code::INCORRECT_PARAMETERS, "INCORRECT_PARAMETERS")
    }

    /// `INCORRECT_PARAMETERS: <extra>` (multicall's two special faults, sendProcessStdin).
    pub fn incorrect_parameters_with(extra: &str) -> Fault {
        Fault {
            code: code::INCORRECT_PARAMETERS,
            string: format!("INCORRECT_PARAMETERS: {extra}"),
        }
    }

    pub fn signature_unsupported() -> Fault {
        Fault::new(code::SIGNATURE_UNSUPPORTED, "SIGNATURE_UNSUPPORTED")
    }

    /// A log read with impossible offset/length.
    pub fn bad_arguments() -> Fault {
        Fault::new(code::BAD_ARGUMENTS, "BAD_ARGUMENTS")
    }

    /// A log file that could not be read.
    pub fn failed() -> Fault {
        Fault::new(code::FAILED, "FAILED")
    }

    /// The `{faultCode, faultString}` struct, as faults travel inside multicall results.
    pub fn to_value(&self) -> Value {
        Value::structure([
            ("faultCode", Value::from(self.code)),
            ("faultString", Value::from(self.string.as_str())),
        ])
    }
}

impl From<&SupervisorError> for Fault {
    fn from(err: &SupervisorError) -> Fault {
        use SupervisorError as E;
        let code = match err {
            E::ShutdownState => code::SHUTDOWN_STATE,
            E::BadName(_) => code::BAD_NAME,
            E::BadArguments(_) => code::BAD_ARGUMENTS,
            E::BadSignal(_) => code::BAD_SIGNAL,
            E::NoFile(_) | E::NoLogFile => code::NO_FILE,
            E::NotExecutable(_) => code::NOT_EXECUTABLE,
            E::Failed(_) => code::FAILED,
            E::AbnormalTermination(_) => code::ABNORMAL_TERMINATION,
            E::SpawnError(_) => code::SPAWN_ERROR,
            E::AlreadyStarted(_) => code::ALREADY_STARTED,
            E::NotRunning(_) => code::NOT_RUNNING,
            E::AlreadyAdded(_) => code::ALREADY_ADDED,
            E::StillRunning(_) => code::STILL_RUNNING,
            E::CantReread(_) => code::CANT_REREAD,
        };
        Fault {
            code,
            string: err.to_string(),
        }
    }
}

impl From<SupervisorError> for Fault {
    fn from(err: SupervisorError) -> Fault {
        Fault::from(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervisor_errors_keep_python_fault_strings() {
        let f = Fault::from(&SupervisorError::BadName("foo".into()));
        assert_eq!((f.code, f.string.as_str()), (10, "BAD_NAME: foo"));
        let f = Fault::from(&SupervisorError::NoLogFile);
        assert_eq!((f.code, f.string.as_str()), (20, "NO_FILE"));
        let f = Fault::from(&SupervisorError::ShutdownState);
        assert_eq!((f.code, f.string.as_str()), (6, "SHUTDOWN_STATE"));
    }
}
