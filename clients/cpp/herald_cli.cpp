// herald-cli: subscribe to Herald channels (one JSON envelope per line on stdout) or
// publish a message, using the C++ client library.
//
// Exit status: 0 done, 1 the server could not be reached or refused, 2 bad usage.
// Diagnostics go to stderr only, so stdout stays a clean stream of JSON lines.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <condition_variable>

#include "clients/cpp/herald_client.h"

namespace {

using herald::client::Client;
using herald::client::Options;
using herald::client::Transport;

constexpr const char* kUsage =
    "usage:\n"
    "  herald-cli subscribe --url URL [--transport websocket|sse|longpoll|auto] [--since CURSOR]\n"
    "                       [--count N] [--token TOKEN] [--verbose] CHANNEL...\n"
    "      prints each message as one JSON line {\"channel\",\"id\",\"ts\",\"data\"}; stops after N\n"
    "      messages if --count is given, else on SIGINT/SIGTERM\n"
    "  herald-cli publish --url URL [--key KEY] CHANNEL JSON\n"
    "      prints {\"id\":CURSOR}\n";

volatile std::sig_atomic_t g_signalled = 0;
void on_signal(int) { g_signalled = 1; }

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// --name value / --name=value flags, then positional arguments.
struct Args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;
};

Args parse_args(int argc, char** argv, int first, const std::vector<std::string>& valued,
                const std::vector<std::string>& switches) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) a.positional.emplace_back(argv[i]);
      break;
    }
    if (arg.rfind("--", 0) != 0) {
      a.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (std::find(switches.begin(), switches.end(), name) != switches.end()) {
      if (value) throw UsageError("--" + name + " takes no value");
      a.flags[name] = "1";
      continue;
    }
    if (std::find(valued.begin(), valued.end(), name) == valued.end()) throw UsageError("unknown option --" + name);
    if (!value) {
      if (i + 1 >= argc) throw UsageError("--" + name + " needs a value");
      value = argv[++i];
    }
    a.flags[name] = *value;
  }
  if (!a.flags.count("url")) throw UsageError("--url is required (e.g. --url http://127.0.0.1:8080)");
  return a;
}

std::string describe(const herald::client::Error& e) {
  std::string out;
  if (e.transport) out += std::string(herald::client::transport_name(*e.transport)) + ": ";
  return out + e.code + ": " + e.message;
}

int subscribe(const Args& args) {
  if (args.positional.empty()) throw UsageError("give at least one CHANNEL");
  Options o;
  o.base_url = args.flags.at("url");
  if (auto t = args.flags.find("transport"); t != args.flags.end() && t->second != "auto") {
    auto parsed = herald::client::parse_transport(t->second);
    if (!parsed) throw UsageError("--transport must be websocket, sse, longpoll or auto (got '" + t->second + "')");
    o.transports = {*parsed};
  }
  long count = 0;
  if (auto c = args.flags.find("count"); c != args.flags.end()) {
    char* end = nullptr;
    count = std::strtol(c->second.c_str(), &end, 10);
    if (c->second.empty() || *end != '\0' || count < 1) throw UsageError("--count must be a positive integer");
  }
  std::optional<std::string> since;
  if (auto s = args.flags.find("since"); s != args.flags.end()) since = s->second;
  if (auto t = args.flags.find("token"); t != args.flags.end()) o.token = t->second;
  const bool verbose = args.flags.count("verbose") != 0;

  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int status = 0;
  long received = 0;
  bool connected = false;
  auto finish = [&](int code) {
    std::lock_guard lock(mu);
    if (!done) status = code;
    done = true;
    cv.notify_all();
  };

  std::unique_ptr<Client> client;
  try {
    client = std::make_unique<Client>(o);
    for (const auto& ch : args.positional) client->subscribe(ch, since);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  client->on_message([&](const herald::client::Envelope& env) {
    if (count && received >= count) return;
    nlohmann::ordered_json line{{"channel", env.channel}, {"id", env.id}, {"ts", env.ts}, {"data", env.data}};
    std::cout << line.dump() << '\n' << std::flush;
    if (count && ++received >= count) finish(0);
  });
  client->on_gap([&](const herald::client::Gap& g) {
    if (g.skipped > 0) {
      std::cerr << "herald-cli: gap on " << g.channel << ": the server skipped " << g.skipped
                << " messages for the newest (this reader was behind)\n";
      return;
    }
    std::cerr << "herald-cli: gap on " << g.channel << ": messages after " << g.last_cursor
              << " may be lost; continuing from " << g.cursor << '\n';
  });
  client->on_transport([&](Transport t) {
    connected = true;
    if (verbose) std::cerr << "herald-cli: connected over " << herald::client::transport_name(t) << '\n';
  });
  client->on_error([&](const herald::client::Error& e) {
    if (e.code == "round_failed" && !connected) {
      std::cerr << "herald-cli: cannot subscribe at " << o.base_url << ": every transport failed\n";
      finish(1);
      return;
    }
    std::cerr << "herald-cli: " << describe(e) << '\n';
  });
  client->start();
  {
    std::unique_lock lock(mu);
    while (!done && !g_signalled) cv.wait_for(lock, std::chrono::milliseconds(100));
  }
  client->stop();
  return status;
}

int publish(const Args& args) {
  if (args.positional.size() != 2) throw UsageError("publish takes CHANNEL and JSON");
  auto data = nlohmann::json::parse(args.positional[1], nullptr, false);
  if (data.is_discarded()) throw UsageError("JSON is not valid JSON: " + args.positional[1].substr(0, 100));
  Options o;
  o.base_url = args.flags.at("url");
  if (auto k = args.flags.find("key"); k != args.flags.end()) o.publish_key = k->second;
  std::unique_ptr<Client> client;
  try {
    client = std::make_unique<Client>(o);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  auto id = client->publish(args.positional[0], data);
  if (!id) {
    std::cerr << "herald-cli: publish failed: " << describe(id.error()) << '\n';
    return 1;
  }
  std::cout << nlohmann::json{{"id", *id}}.dump() << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  const std::string command = argc > 1 ? argv[1] : "";
  try {
    if (command == "subscribe")
      return subscribe(parse_args(argc, argv, 2, {"url", "transport", "since", "count", "token"}, {"verbose"}));
    if (command == "publish") return publish(parse_args(argc, argv, 2, {"url", "key"}, {}));
    if (command == "--help" || command == "-h" || command == "help") {
      std::cout << kUsage;
      return 0;
    }
    throw UsageError(command.empty() ? "give a command" : "unknown command '" + command + "'");
  } catch (const UsageError& e) {
    std::cerr << "herald-cli: " << e.what() << '\n' << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "herald-cli: " << e.what() << '\n';
    return 1;
  }
}
