//! Accounts for tests: users made with the admin token, clients signed in with cookies.

use serde_json::{Value, json};

use super::{ADMIN_TOKEN, TestServer};

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery";

impl TestServer {
    /// `POST /api/users` with the admin token; panics unless 201.
    pub async fn add_user(&self, name: &str, role: &str) {
        let res = reqwest::Client::new()
            .post(self.url("/api/users"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"name": name, "password": PASSWORD, "role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
    }

    /// A client signed in as `name` (cookie session).
    pub async fn sign_in(&self, name: &str) -> reqwest::Client {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let res = client
            .post(self.url("/api/session"))
            .json(&json!({"name": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{:?}", res.text().await);
        client
    }

    /// A new user of `role`, signed in.
    pub async fn user(&self, name: &str, role: &str) -> reqwest::Client {
        self.add_user(name, role).await;
        self.sign_in(name).await
    }

    /// The server's default streamer (`streamer`), signed in on first use.
    pub async fn streamer(&self) -> &reqwest::Client {
        self.streamer
            .get_or_init(|| self.user("streamer", "streamer"))
            .await
    }

    /// GET with the admin token: (status, JSON).
    pub async fn admin_json(&self, path: &str) -> (u16, Value) {
        let res = reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// (status, JSON body) of a response.
pub async fn status_json(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}
