#include "bench/herald_bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

namespace herald::bench {

std::string grouped(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}
namespace {


std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Milliseconds with three significant digits: 0.412, 4.12, 41.2, 412.
std::string ms(double micros) {
  const double v = micros / 1000.0;
  return fixed(v, v < 1 ? 3 : v < 10 ? 2 : v < 100 ? 1 : 0);
}

std::string xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

const char* color_of(const std::string& transport) {
  if (transport == "websocket") return "#2563eb";
  if (transport == "sse") return "#16a34a";
  return "#ea580c";
}

// 1, 2 or 5 times a power of ten, at least v.
double nice_ceiling(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  const double m = v / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

std::string rate_label(double v) {
  if (v >= 1e6) return fixed(v / 1e6, v >= 1e7 ? 1 : 2) + "M";
  if (v >= 1e3) return fixed(v / 1e3, v >= 1e4 ? 0 : 1) + "k";
  return fixed(v, 0);
}

std::string ms_tick(int decade) {
  if (decade >= 3) return fixed(std::pow(10.0, decade - 3), 0) + " s";
  if (decade >= 0) return fixed(std::pow(10.0, decade), 0) + " ms";
  return fixed(std::pow(10.0, decade), -decade) + " ms";
}

}  // namespace

double TransportResult::server_kib_per_connection() const {
  if (rss_before_kib < 0 || rss_after_kib < 0 || connected == 0) return -1;
  return double(rss_after_kib - rss_before_kib) / double(connected);
}

std::string workload_line(const Options& o) {
  return grouped(o.subscribers) + " subscribers per transport on " + grouped(o.channels) + " channel" +
         (o.channels == 1 ? "" : "s") + ", " + grouped(o.messages) + " messages of " + grouped(o.size) + " B at " +
         grouped(static_cast<uint64_t>(o.rate)) + "/s, " + std::to_string(o.procs) + " process" +
         (o.procs == 1 ? "" : "es");
}

void print_table(std::ostream& out, const std::vector<TransportResult>& results) {
  struct Column {
    const char* title;
    bool left;
  };
  const std::vector<Column> columns = {
      {"transport", true}, {"subs", false},   {"connect/s", false}, {"deliveries/s", false}, {"p50 ms", false},
      {"p90 ms", false},   {"p99 ms", false}, {"p99.9 ms", false},  {"max ms", false},       {"B/msg", false},
      {"up B/msg", false}, {"server KiB/conn", false}, {"lost", false}, {"dup", false},      {"failed", false}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : results) {
    const double kib = r.server_kib_per_connection();
    rows.push_back({r.transport, grouped(r.connected), grouped(static_cast<uint64_t>(r.connect_rate())),
                    grouped(static_cast<uint64_t>(r.deliveries_per_second())), ms(r.latency.quantile(0.5)),
                    ms(r.latency.quantile(0.9)), ms(r.latency.quantile(0.99)), ms(r.latency.quantile(0.999)),
                    ms(static_cast<double>(r.latency.max())), fixed(r.wire_bytes_per_message(), 0),
                    fixed(r.up_bytes_per_message(), 1), kib < 0 ? "-" : fixed(kib, 1), grouped(r.lost),
                    grouped(r.duplicated + r.misrouted), grouped(r.failed)});
  }
  std::vector<size_t> width(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    width[c] = std::string_view(columns[c].title).size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c) out << "  ";
      out << (columns[c].left ? std::left : std::right) << std::setw(static_cast<int>(width[c])) << cells[c];
    }
    out << std::right << '\n';
  };
  std::vector<std::string> titles;
  for (const auto& c : columns) titles.emplace_back(c.title);
  line(titles);
  for (const auto& row : rows) line(row);
}

void write_csv(std::ostream& out, const Options& o, const std::vector<TransportResult>& results) {
  out << "transport,subscribers,connected,failed,channels,messages,rate,size,procs,connect_seconds,connect_per_s,"
         "expected,delivered,lost,duplicated,misrouted,deliver_seconds,deliveries_per_s,p50_ms,p90_ms,p99_ms,"
         "p999_ms,max_ms,wire_bytes_per_msg,up_bytes_per_msg,server_rss_before_kib,server_rss_after_kib,"
         "server_kib_per_conn\n";
  for (const auto& r : results) {
    const double kib = r.server_kib_per_connection();
    out << r.transport << ',' << r.subscribers << ',' << r.connected << ',' << r.failed << ',' << o.channels << ','
        << o.messages << ',' << fixed(o.rate, 1) << ',' << o.size << ',' << o.procs << ','
        << fixed(r.connect_seconds, 3) << ',' << fixed(r.connect_rate(), 1) << ',' << r.expected << ','
        << r.delivered << ',' << r.lost << ',' << r.duplicated << ',' << r.misrouted << ','
        << fixed(r.deliver_seconds, 3) << ',' << fixed(r.deliveries_per_second(), 1) << ','
        << fixed(r.latency.quantile(0.5) / 1000, 3) << ',' << fixed(r.latency.quantile(0.9) / 1000, 3) << ','
        << fixed(r.latency.quantile(0.99) / 1000, 3) << ',' << fixed(r.latency.quantile(0.999) / 1000, 3) << ','
        << fixed(static_cast<double>(r.latency.max()) / 1000, 3) << ',' << fixed(r.wire_bytes_per_message(), 1)
        << ',' << fixed(r.up_bytes_per_message(), 2) << ',' << (r.rss_before_kib < 0 ? "" : std::to_string(r.rss_before_kib))
        << ',' << (r.rss_after_kib < 0 ? "" : std::to_string(r.rss_after_kib)) << ','
        << (kib < 0 ? "" : fixed(kib, 2)) << '\n';
  }
}

// Two panels: latency by percentile (log-log, one line per transport) and
// deliveries per second (bars), with a legend of the headline numbers.
void write_svg(std::ostream& out, const Options& o, const std::vector<TransportResult>& results) {
  const double W = 960, H = 500;
  const double lx0 = 78, lx1 = 590, ly0 = 112, ly1 = 372;  // latency plot
  const double rx0 = 670, rx1 = 930, ry0 = 112, ry1 = 372;  // throughput plot
  const char* font = "font-family=\"Helvetica, Arial, sans-serif\"";
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
      << ' ' << H << "\" " << font << ">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
      << "<text x=\"24\" y=\"36\" font-size=\"19\" font-weight=\"bold\" fill=\"#111827\">Herald transports side by side</text>\n"
      << "<text x=\"24\" y=\"58\" font-size=\"12\" fill=\"#6b7280\">" << xml(workload_line(o)) << "</text>\n"
      << "<text x=\"" << lx0 << "\" y=\"" << ly0 - 14
      << "\" font-size=\"13\" font-weight=\"bold\" fill=\"#374151\">Latency by percentile, publish to receive</text>\n"
      << "<text x=\"" << rx0 << "\" y=\"" << ry0 - 14
      << "\" font-size=\"13\" font-weight=\"bold\" fill=\"#374151\">Deliveries per second</text>\n";

  // Latency: x is -log10(1 - p), so 90%, 99%, 99.9% and 99.99% are evenly spaced.
  const double xmax = 4;
  double lo = 1e18, hi = 0;
  for (const auto& r : results) {
    if (!r.latency.count()) continue;
    lo = std::min(lo, std::max(1.0, r.latency.quantile(0)) / 1000);
    hi = std::max(hi, std::max(1.0, static_cast<double>(r.latency.max())) / 1000);
  }
  if (hi == 0) lo = 0.1, hi = 10;
  int d0 = static_cast<int>(std::floor(std::log10(lo)));
  int d1 = static_cast<int>(std::ceil(std::log10(hi)));
  if (d1 <= d0) d1 = d0 + 1;
  auto px = [&](double x) { return lx0 + (lx1 - lx0) * x / xmax; };
  auto py = [&](double msv) {
    const double l = std::log10(std::max(msv, std::pow(10.0, d0)));
    return ly1 - (ly1 - ly0) * (l - d0) / (d1 - d0);
  };
  for (int d = d0; d <= d1; ++d) {
    out << "<line x1=\"" << lx0 << "\" x2=\"" << lx1 << "\" y1=\"" << py(std::pow(10.0, d)) << "\" y2=\""
        << py(std::pow(10.0, d)) << "\" stroke=\"#e5e7eb\"/>\n"
        << "<text x=\"" << lx0 - 8 << "\" y=\"" << py(std::pow(10.0, d)) + 4
        << "\" font-size=\"11\" fill=\"#6b7280\" text-anchor=\"end\">" << ms_tick(d) << "</text>\n";
    for (int m : {2, 5}) {
      if (d == d1) break;
      const double y = py(m * std::pow(10.0, d));
      out << "<line x1=\"" << lx0 << "\" x2=\"" << lx1 << "\" y1=\"" << y << "\" y2=\"" << y
          << "\" stroke=\"#f3f4f6\"/>\n";
    }
  }
  const char* xlabels[] = {"0%", "90%", "99%", "99.9%", "99.99%"};
  for (int i = 0; i <= 4; ++i) {
    out << "<line x1=\"" << px(i) << "\" x2=\"" << px(i) << "\" y1=\"" << ly0 << "\" y2=\"" << ly1
        << "\" stroke=\"#f3f4f6\"/>\n"
        << "<text x=\"" << px(i) << "\" y=\"" << ly1 + 18 << "\" font-size=\"11\" fill=\"#6b7280\" text-anchor=\""
        << (i == 0 ? "start" : "middle") << "\">" << xlabels[i] << "</text>\n";
  }
  out << "<line x1=\"" << lx0 << "\" x2=\"" << lx1 << "\" y1=\"" << ly1 << "\" y2=\"" << ly1
      << "\" stroke=\"#9ca3af\"/>\n"
      << "<text x=\"" << (lx0 + lx1) / 2 << "\" y=\"" << ly1 + 36
      << "\" font-size=\"11\" fill=\"#6b7280\" text-anchor=\"middle\">percentile of deliveries</text>\n";
  for (const auto& r : results) {
    if (!r.latency.count()) continue;
    const double xend = std::min(xmax, std::log10(static_cast<double>(r.latency.count())));
    out << "<polyline fill=\"none\" stroke=\"" << color_of(r.transport)
        << "\" stroke-width=\"2.2\" stroke-linejoin=\"round\" points=\"";
    for (double x = 0; x <= xend + 1e-9; x += 0.02) {
      const double q = 1 - std::pow(10.0, -x);
      out << fixed(px(x), 1) << ',' << fixed(py(r.latency.quantile(q) / 1000), 1) << ' ';
    }
    out << "\"/>\n";
  }

  // Throughput bars.
  double top = 0;
  for (const auto& r : results) top = std::max(top, r.deliveries_per_second());
  top = 4 * nice_ceiling(top * 1.1 / 4);  // four gridline steps of 1, 2 or 5 times a power of ten
  for (int i = 0; i <= 4; ++i) {
    const double v = top * i / 4, y = ry1 - (ry1 - ry0) * i / 4;
    out << "<line x1=\"" << rx0 << "\" x2=\"" << rx1 << "\" y1=\"" << y << "\" y2=\"" << y << "\" stroke=\""
        << (i ? "#e5e7eb" : "#9ca3af") << "\"/>\n"
        << "<text x=\"" << rx0 - 8 << "\" y=\"" << y + 4 << "\" font-size=\"11\" fill=\"#6b7280\" text-anchor=\"end\">"
        << rate_label(v) << "</text>\n";
  }
  const double slot = (rx1 - rx0) / std::max<size_t>(1, results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    const double v = r.deliveries_per_second(), h = (ry1 - ry0) * v / top;
    const double x = rx0 + slot * i + slot * 0.2, w = slot * 0.6;
    out << "<rect x=\"" << fixed(x, 1) << "\" y=\"" << fixed(ry1 - h, 1) << "\" width=\"" << fixed(w, 1)
        << "\" height=\"" << fixed(h, 1) << "\" rx=\"3\" fill=\"" << color_of(r.transport) << "\"/>\n"
        << "<text x=\"" << fixed(x + w / 2, 1) << "\" y=\"" << fixed(ry1 - h - 6, 1)
        << "\" font-size=\"12\" font-weight=\"bold\" fill=\"#111827\" text-anchor=\"middle\">" << rate_label(v)
        << "/s</text>\n"
        << "<text x=\"" << fixed(x + w / 2, 1) << "\" y=\"" << ry1 + 18
        << "\" font-size=\"11\" fill=\"#374151\" text-anchor=\"middle\">" << xml(r.transport) << "</text>\n";
  }

  // Legend with the headline numbers, one line per transport.
  double ly = ly1 + 66;
  for (const auto& r : results) {
    const double kib = r.server_kib_per_connection();
    std::string text = r.transport + ": p50 " + ms(r.latency.quantile(0.5)) + " ms, p99 " +
                       ms(r.latency.quantile(0.99)) + " ms, p99.9 " + ms(r.latency.quantile(0.999)) + " ms; " +
                       fixed(r.wire_bytes_per_message(), 0) + " B/msg on the wire; " +
                       grouped(static_cast<uint64_t>(r.connect_rate())) + " connects/s";
    if (kib >= 0) text += "; server " + fixed(kib, 1) + " KiB/connection";
    if (!r.clean()) text += "; NOT CLEAN: " + grouped(r.lost) + " lost, " + grouped(r.duplicated) + " duplicated";
    out << "<rect x=\"24\" y=\"" << ly - 10 << "\" width=\"12\" height=\"12\" rx=\"2\" fill=\""
        << color_of(r.transport) << "\"/>\n"
        << "<text x=\"42\" y=\"" << ly << "\" font-size=\"12\" fill=\"#374151\">" << xml(text) << "</text>\n";
    ly += 20;
  }
  out << "</svg>\n";
}

}  // namespace herald::bench
