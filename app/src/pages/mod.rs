pub mod board;
pub mod check_in;
pub mod check_out;
pub mod dashboard;
pub mod enroll;
pub mod home;
pub mod not_found;
