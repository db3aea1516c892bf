r"""Serve a trained generator as a web page and a JSON API: `python -m keras_cgan.serve`.

Examples:

    pip install -e ".[serve]"
    python -m keras_cgan.serve --model=runs/a            # run folder, export folder or .keras
    python -m keras_cgan.serve --model=runs/a/export --host=0.0.0.0 --port=8080

Open the printed URL for the page; the API is documented at /docs. Bad flags or
an unloadable model stop with one line and exit status 2 before it listens.
"""

from absl import flags

from keras_cgan import cli, loading

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model", None, "A run folder, an export folder or a .keras file.")
    flags.DEFINE_string("host", "127.0.0.1", "Address to listen on (0.0.0.0: every interface).")
    flags.DEFINE_integer(
        "port", 8000, "TCP port (0: any free port).", lower_bound=0, upper_bound=65535
    )
    flags.DEFINE_integer("max_images", 400, "Most images one request may ask for.", lower_bound=1)


def main(argv):
    del argv  # Positional arguments are rejected by `cli.run`.
    loading.check_model_path(FLAGS.model)  # A bad path fails before TensorFlow loads.
    cli.quiet_tensorflow()
    from keras_cgan.server.run import serve

    serve(FLAGS.model, host=FLAGS.host, port=FLAGS.port, max_images=FLAGS.max_images)


def run():
    """Console-script entry point (`keras-cgan-serve`)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    run()
