"""Static files as production serves them (WhiteNoise: compressed, names hashed for far-future caching)."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's storage, except that a stylesheet's reference to a file that no package ships is left as
    written instead of failing ``collectstatic``: Viewflow's bundled ``roboto-fontface.css`` names font files
    that are not in the wheel. A reference to a file that exists is hashed as before."""

    def hashed_name(self, name, content=None, filename=None):
        try:
            return super().hashed_name(name, content, filename)
        except ValueError:
            if content is None and not self.exists(self.clean_name(filename or name)):
                return name
            raise
