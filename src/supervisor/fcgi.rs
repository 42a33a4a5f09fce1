//! `[fcgi-program:x]` groups in the actor: their socket is made when the group is added (at
//! startup, restart or `addProcessGroup`) and closed when it is removed; in between, every
//! spawn of the pool gets it as fd 0, across restarts of its processes.

use crate::config::{GroupConfig, GroupKind};
use crate::fcgi::FcgiListener;

use super::actor::Supervisor;
use super::info::SupervisorError;

impl Supervisor {
    /// The socket of an fcgi group (`None` for other kinds), logged as Python logs it. When it
    /// cannot be made the group must not be added: the reason is logged at CRIT and is the
    /// `FAILED` fault's text (Python's `addProcessGroup` crashes with it, HTTP 500; its startup
    /// exits with it).
    pub(super) fn open_fcgi(
        &self,
        config: &GroupConfig,
    ) -> Result<Option<FcgiListener>, SupervisorError> {
        let GroupKind::Fcgi {
            socket,
            socket_backlog,
            socket_owner,
            socket_mode,
        } = &config.kind
        else {
            return Ok(None);
        };
        self.log
            .info(format!("Creating socket {}", crate::fcgi::url(socket)));
        match FcgiListener::open(socket, *socket_backlog, *socket_owner, *socket_mode) {
            Ok(listener) => Ok(Some(listener)),
            Err(e) => {
                self.log
                    .critical(format!("{e}; process group {} not added", config.name));
                Err(SupervisorError::Failed(e.to_string()))
            }
        }
    }

    /// Closes a group's socket (and removes a unix socket's file) as the group goes.
    pub(super) fn close_fcgi(&mut self, group: &str) {
        if let Some(listener) = self.table.take_fcgi(group) {
            self.log.info(format!("Closing socket {}", listener.url()));
        }
    }
}
