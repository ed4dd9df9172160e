/*
 * dashboard.h: the operator's web page, served by api.c at / and
 * /index.html. Its source is src/api/dashboard.html (HTML, CSS and
 * JavaScript in one file, no external resources); at build time
 * cmake/embed.cmake turns it into these two constants, generated in the
 * build directory.
 */
#ifndef LOKA_API_DASHBOARD_H
#define LOKA_API_DASHBOARD_H

#include <stddef.h>

/* The page's bytes (followed by a NUL not counted in the length). */
extern const unsigned char api_dashboard_html[];
extern const size_t api_dashboard_html_len;
/* Chart.js (Debian's libjs-chart.js), served at /assets/chart.min.js. */
extern const unsigned char api_chartjs[];
extern const size_t api_chartjs_len;

#endif
