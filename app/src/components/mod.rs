pub mod network_status;
