"""The Django floor: one JSON echo view under the product's gunicorn settings, no middleware, no apps.

What Django itself costs a request (WSGI handler, URL resolver, request and
response objects, `json`), so the product's figures can be read against it:
`gunicorn -c gunicorn.conf.py benchmarks.floor.wsgi:application` with
`DJANGO_SETTINGS_MODULE=benchmarks.floor.settings`.
"""
