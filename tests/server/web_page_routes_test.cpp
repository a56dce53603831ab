// The embedded web page on the worker's routes: GET / answers browsers with the page and
// everyone else with the health JSON, the page's files are public and revalidated by
// ETag, and /info lists the LoRAs of --lora-dir for the page to offer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "server/job_registry.h"
#include "server/loopback.h"
#include "server/routes.h"
#include "server/web_assets.h"
#include "server/worker_config.h"
#include "server/worker_state.h"
#include "support/test_support.h"

namespace sd::server {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const httplib::Headers kBrowser = {{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}};

class WebPageRoutes : public ::testing::Test {
 protected:
  void start() {
    cfg.worker_id = "w-web";
    cfg.model_path = "/models/tiny";
    install_routes(server.router, cfg, registry, state);
    server.start();
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", server.port);
    c.set_read_timeout(5, 0);
    return c;
  }

  WorkerConfig cfg;
  JobRegistry registry{{16, 600s}};
  WorkerState state;
  sd::test::WorkerHttpServer server;
};

TEST_F(WebPageRoutes, RootIsThePageForBrowsersAndHealthForEveryoneElse) {
  start();
  auto c = client();
  auto page = c.Get("/", kBrowser);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<script type=\"module\" src=\"assets/app.js\">"), std::string::npos);
  EXPECT_EQ(page->get_header_value("Vary"), "Accept");
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);

  for (const httplib::Headers& h : {httplib::Headers{}, httplib::Headers{{"Accept", "*/*"}},
                                    httplib::Headers{{"Accept", "application/json"}}}) {
    auto health = c.Get("/", h);
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    EXPECT_EQ(health->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(json::parse(health->body)["status"], "healthy");
    EXPECT_EQ(health->get_header_value("Vary"), "Accept");
  }
}

TEST_F(WebPageRoutes, EveryEmbeddedFileIsServedWithItsTypeAndRevalidatedByEtag) {
  start();
  auto c = client();
  ASSERT_GE(web_assets().size(), 5u);
  for (const auto& asset : web_assets()) {
    std::string path(asset.path);
    auto r = c.Get(path, kBrowser);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->get_header_value("Content-Type"), asset.content_type) << path;
    EXPECT_EQ(r->body.size(), asset.bytes.size()) << path;
    std::string etag = r->get_header_value("ETag");
    EXPECT_EQ(etag, asset.etag) << path;
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache") << path;

    auto again = c.Get(path, {{"Accept", "text/html"}, {"If-None-Match", etag}});
    ASSERT_TRUE(again) << path;
    EXPECT_EQ(again->status, 304) << path;
    EXPECT_TRUE(again->body.empty()) << path;
    auto changed = c.Get(path, {{"Accept", "text/html"}, {"If-None-Match", "\"other\""}});
    EXPECT_EQ(changed->status, 200) << path;
  }
  EXPECT_EQ(c.Get("/assets/app.js")->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(c.Get("/assets/style.css")->get_header_value("Content-Type"), "text/css; charset=utf-8");
}

TEST_F(WebPageRoutes, UnknownFilesAre404WithAJsonBody) {
  start();
  auto c = client();
  for (const char* path : {"/assets/nope.js", "/assets/", "/assets/../info", "/assets/%2e%2e%2finfo"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_EQ(json::parse(r->body)["error"]["code"], "not_found") << path;
  }
}

TEST_F(WebPageRoutes, ThePageIsPublicButItsApiCallsNeedTheToken) {
  cfg.api_token = "s3cret";
  start();
  auto c = client();
  EXPECT_EQ(c.Get("/", kBrowser)->status, 200);
  EXPECT_EQ(c.Get("/assets/app.js")->status, 200);
  EXPECT_EQ(c.Get("/assets/nope.js")->status, 404);
  EXPECT_EQ(c.Get("/assets/../info")->status, 401);
  EXPECT_EQ(c.Get("/")->status, 401);  // the health JSON at / keeps its guard
  EXPECT_EQ(c.Get("/info", kBrowser)->status, 401);
  EXPECT_EQ(c.Get("/info", {{"Authorization", "Bearer s3cret"}})->status, 200);
}

TEST_F(WebPageRoutes, InfoListsTheLorasOfTheLoraFolder) {
  namespace fs = std::filesystem;
  fs::path dir = sd::test::temp_dir("web-loras");
  for (const char* name : {"zeta.safetensors", "alpha.safetensors", "notes.txt", "alpha.safetensors.bak"})
    std::ofstream(dir / name) << "x";
  fs::create_directory(dir / "folder.safetensors");
  cfg.lora_dirs = {dir.string()};
  start();
  auto info = json::parse(client().Get("/info")->body);
  EXPECT_EQ(info["loras"], json({"alpha", "zeta"}));
}

TEST_F(WebPageRoutes, InfoListsNoLorasWithoutALoraFolder) {
  start();
  EXPECT_EQ(json::parse(client().Get("/info")->body)["loras"], json::array());
}

TEST(WebAssets, HtmlIsWantedOnlyWhenTheAcceptHeaderNamesIt) {
  EXPECT_TRUE(accepts_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
  EXPECT_TRUE(accepts_html("text/html"));
  EXPECT_FALSE(accepts_html(""));
  EXPECT_FALSE(accepts_html("*/*"));
  EXPECT_FALSE(accepts_html("application/json"));
}

}  // namespace
}  // namespace sd::server
